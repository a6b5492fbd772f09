import Logging

/// Every flag of `Node` and `Gateway` can also come from the environment: `STARLING_` + the flag name in upper case
/// with `_` for `-` (`--mqtt-port` ← `STARLING_MQTT_PORT`). A flag on the command line wins over the environment.
/// A repeatable option (`--seed`, `--backend`) takes a comma list, also under its plural name (`STARLING_SEEDS`).
public enum EnvironmentArguments {
    /// Returns the command-line arguments with environment values appended for options not given as flags.
    /// - Parameters:
    ///   - options: the options that take a value.
    ///   - repeatable: repeatable options and the plural variable each also reads (`["seed": "STARLING_SEEDS"]`).
    ///   - flags: boolean flags, set by `1`, `true`, `yes` or `on`.
    public static func merge(
        arguments: [String], options: [String], repeatable: [String: String] = [:], flags: [String] = [],
        environment: [String: String]
    ) -> [String] {
        var result = arguments
        let given = Set(arguments.compactMap { arg -> String? in
            guard arg.hasPrefix("--") else { return nil }
            return String(arg.dropFirst(2).prefix { $0 != "=" })
        })
        for option in options where !given.contains(option) {
            let value = environment[variableName(option)] ?? repeatable[option].flatMap { environment[$0] }
            guard let value, !value.isEmpty else { continue }
            let parts = repeatable[option] == nil ? [Substring(value)] : value.split(separator: ",")
            for part in parts {
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

    public static func variableName(_ option: String) -> String {
        "STARLING_" + String(option.uppercased().map { $0 == "-" ? "_" : $0 })
    }
}

/// Logs to standard error at `level` (a `--log-level` value; unknown values mean `info`). Standard error because
/// standard output is block-buffered when redirected, and a killed process would lose it.
public func bootstrapStarlingLogging(level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
