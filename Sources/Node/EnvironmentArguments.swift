/// Every flag can also come from the environment: `STARLING_` + the flag name in upper case with `_` for `-`
/// (`--mqtt-port` ← `STARLING_MQTT_PORT`). A flag on the command line wins over the environment.
enum EnvironmentArguments {
    /// Returns the command-line arguments with environment values appended for options not given as flags.
    static func merge(
        arguments: [String], options: [String], flags: [String], environment: [String: String]
    ) -> [String] {
        var result = arguments
        let given = Set(arguments.compactMap { arg -> String? in
            guard arg.hasPrefix("--") else { return nil }
            return String(arg.dropFirst(2).prefix { $0 != "=" })
        })
        for option in options where !given.contains(option) {
            // `STARLING_SEEDS` (plural) is the documented name of the seed list; `STARLING_SEED` works too.
            let value = environment[variableName(option)] ?? (option == "seed" ? environment["STARLING_SEEDS"] : nil)
            guard let value, !value.isEmpty else { continue }
            // Repeatable options (--seed) take a comma list in the environment.
            for part in value.split(separator: ",") {
                result += ["--\(option)", String(part).trimmingSpaces()]
            }
        }
        for flag in flags where !given.contains(flag) {
            if let value = environment[variableName(flag)], ["1", "true", "yes", "on"].contains(value.lowercased()) {
                result.append("--\(flag)")
            }
        }
        return result
    }

    static func variableName(_ option: String) -> String {
        "STARLING_" + option.uppercased().replacingDashes()
    }
}

extension String {
    fileprivate func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
