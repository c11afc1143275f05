/// The software version recorded in every merge's lineage and in merged safetensors metadata.
public enum QuiverVersion {
    public static let current = "0.1.0"
}
