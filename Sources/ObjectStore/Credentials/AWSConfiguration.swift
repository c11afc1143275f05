import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The AWS settings of this process, resolved as the AWS CLI (botocore) resolves them.
///
/// **Credentials**, first found wins:
/// 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
/// 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`), or the profile's
///    `web_identity_token_file` + `role_arn` (+ `role_session_name`), the variables winning key by key; the role is
///    assumed through STS and the keys refreshed before they expire (``WebIdentityCredentials``);
/// 3. the profile's `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`) in the shared credentials
///    file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`, section `[NAME]`);
/// 4. the same keys in the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`, section `[profile NAME]`, or
///    `[default]`).
///
/// The profile is `AWS_PROFILE`, else `default`. Web identity comes before the profile's static keys because that
/// is botocore's order (a pod with a projected token uses its role even if a credentials file is around).
///
/// **Region:** `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
/// **Endpoint** of a service (`s3`, `sts`): `AWS_ENDPOINT_URL_<SERVICE>`, the `endpoint_url` of that service in the
/// profile's `[services NAME]` section, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else AWS's regional
/// endpoint; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` ignores all four.
///
/// An `AWS_PROFILE` that names a profile in neither file is an error, as for the AWS CLI; a missing `default`
/// profile is not. Nothing here contacts the network: web identity assumes its role on first use.
struct AWSConfiguration {
    let environment: [String: String]
    /// The profile in use and whether `AWS_PROFILE` chose it.
    let profileName: String
    let configPath: String?
    let credentialsPath: String?
    let configFile: AWSConfigFile?
    let credentialsFile: AWSConfigFile?
    /// The profile's section in the config file, and in the credentials file.
    let configProfile: [String: String]?
    let credentialsProfile: [String: String]?

    init(environment: [String: String]) throws {
        self.environment = environment
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let home = value("HOME") ?? Self.passwordDatabaseHome()
        func expand(_ path: String) -> String {
            guard path == "~" || path.hasPrefix("~/"), let home else { return path }
            return home + path.dropFirst()
        }
        profileName = value("AWS_PROFILE") ?? "default"
        configPath = value("AWS_CONFIG_FILE").map(expand) ?? home.map { $0 + "/.aws/config" }
        credentialsPath = value("AWS_SHARED_CREDENTIALS_FILE").map(expand) ?? home.map { $0 + "/.aws/credentials" }
        configFile = try configPath.flatMap(AWSConfigFile.load(path:))
        credentialsFile = try credentialsPath.flatMap(AWSConfigFile.load(path:))
        configProfile = configFile?.configProfile(profileName)
        credentialsProfile = credentialsFile?.credentialsProfile(profileName)
        if value("AWS_PROFILE") != nil, configProfile == nil, credentialsProfile == nil {
            throw ObjectStoreError(
                .credentials,
                "AWS profile \(profileName) (AWS_PROFILE) is in neither \(credentialsPath ?? "~/.aws/credentials") nor \(configPath ?? "~/.aws/config")",
                hint: "create it (`aws configure --profile \(profileName)`), fix AWS_PROFILE, or point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE at the files that have it")
        }
    }

    private func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }

    /// A profile setting from the config file (where region and endpoints live).
    private func setting(_ key: String) -> String? { configProfile?[key].flatMap { $0.isEmpty ? nil : $0 } }

    var region: String { value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? setting("region") ?? "us-east-1" }

    /// The configured endpoint of `service` (`s3`, `sts`), or nil for AWS's own.
    func endpoint(service: String) -> String? {
        if value("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() == "true" { return nil }
        let specific = value("AWS_ENDPOINT_URL_" + service.uppercased())
            ?? setting("services").flatMap { configFile?.services($0)?[service + ".endpoint_url"] }.flatMap { $0.isEmpty ? nil : $0 }
        return specific ?? value("AWS_ENDPOINT_URL") ?? setting("endpoint_url")
    }

    /// The first credential source of the chain that is configured (see the type's comment).
    ///
    /// - Parameter purpose: what the credentials are for, for the error (`s3://bucket/prefix`).
    func credentialProvider(for purpose: String) throws -> any S3CredentialProvider {
        var tried: [String] = []

        // 1. Environment variables.
        let access = value("AWS_ACCESS_KEY_ID"), secret = value("AWS_SECRET_ACCESS_KEY")
        if let access, let secret {
            return StaticCredentials(accessKey: access, secretKey: secret, sessionToken: value("AWS_SESSION_TOKEN"),
                                     source: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        }
        if access != nil || secret != nil {
            throw ObjectStoreError(.credentials, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                                   hint: "set both, or unset both to use a profile or web identity")
        }
        tried.append("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)")

        // 2. Web identity, from the environment or the profile.
        let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE") ?? profileValue("web_identity_token_file")
        if let tokenFile {
            guard let role = value("AWS_ROLE_ARN") ?? profileValue("role_arn") else {
                throw ObjectStoreError(.credentials, "a web identity token file is set but no role to assume",
                                       hint: "set AWS_ROLE_ARN (or role_arn in profile \(profileName)) next to AWS_WEB_IDENTITY_TOKEN_FILE")
            }
            let endpointText = endpoint(service: "sts") ?? "https://sts.\(region).amazonaws.com"
            let stsEndpoint = try S3Settings.parse(endpoint: endpointText, variable: "AWS_ENDPOINT_URL_STS")
            return WebIdentityCredentials(
                roleARN: role, tokenFile: tokenFile,
                sessionName: value("AWS_ROLE_SESSION_NAME") ?? profileValue("role_session_name")
                    ?? "quiver-\(Int(Date().timeIntervalSince1970))",
                endpoint: stsEndpoint)
        }
        tried.append("web identity AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN (not set)")

        // 3. and 4. The profile's keys: the credentials file, then the config file.
        for (file, section, path) in [(credentialsFile, credentialsProfile, credentialsPath), (configFile, configProfile, configPath)] {
            let where_ = path ?? "(no home directory)"
            guard file != nil else { tried.append("profile \(profileName) in \(where_) (no such file)"); continue }
            guard let section else { tried.append("profile \(profileName) in \(where_) (no such profile)"); continue }
            let key = section["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
            let secret = section["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
            if let key, let secret {
                return StaticCredentials(accessKey: key, secretKey: secret,
                                         sessionToken: section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 },
                                         source: "profile \(profileName) in \(where_)")
            }
            if key != nil || secret != nil {
                throw ObjectStoreError(
                    .credentials, "profile \(profileName) in \(where_) has only one of aws_access_key_id and aws_secret_access_key",
                    hint: "add the missing key to the profile")
            }
            tried.append("profile \(profileName) in \(where_) (no aws_access_key_id/aws_secret_access_key)")
        }

        let unsupported = ["credential_process", "source_profile", "credential_source", "sso_session", "sso_start_url"]
            .filter { profileValue($0) != nil }
        if !unsupported.isEmpty {
            throw ObjectStoreError(
                .credentials, "profile \(profileName) gets its credentials through \(unsupported.joined(separator: ", ")), which Quiver does not support",
                hint: "give the profile aws_access_key_id/aws_secret_access_key, use web identity, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (`aws configure export-credentials --format env`)")
        }
        throw ObjectStoreError(
            .credentials, "no S3 credentials for \(purpose)",
            hint: "tried: " + tried.joined(separator: "; ")
                + ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile that has keys")
    }

    /// A profile setting from either file, the credentials file winning.
    private func profileValue(_ key: String) -> String? {
        (credentialsProfile?[key] ?? configProfile?[key]).flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func passwordDatabaseHome() -> String? {
        guard let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir else { return nil }
        let home = String(cString: directory)
        return home.isEmpty ? nil : home
    }
}
