import Foundation
import QuiverCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("QuiverHome")
struct QuiverHomeTests {
    @Test func explicitHomeWins() {
        #expect(QuiverHome.directory(environment: ["QUIVER_HOME": "/srv/quiver"]).path == "/srv/quiver")
    }

    @Test func defaultDependsOnWhetherTheServerCanReachIt() {
        let home = QuiverHome.directory(environment: [:]).path
        if geteuid() == 0 {
            // root's home is 0700: the embedded PostgreSQL (run as `postgres`) could not reach its data under it.
            #expect(home == "/var/lib/quiver")
        } else {
            #expect(home == FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".quiver").path)
        }
        #expect(QuiverHome.directory(environment: ["QUIVER_HOME": ""]).path == home)
    }
}
