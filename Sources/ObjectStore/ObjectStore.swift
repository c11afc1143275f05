// The ObjectStore module. See README.md ("Architecture") for what it owns.
