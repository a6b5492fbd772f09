/// One backend's health from its active checks, with HAProxy-style hysteresis: `rise` consecutive successes make
/// an unhealthy backend healthy, `fall` consecutive failures make a healthy one unhealthy.
///
/// A backend starts healthy (as HAProxy's servers start up): right after the gateway starts, clients are routed at
/// once, and a backend that is in fact down refuses the connection, so the client moves to the next choice.
struct HealthStateMachine: Sendable, Equatable {
    enum Transition: Equatable, Sendable {
        case becameHealthy
        case becameUnhealthy
    }

    let rise: Int
    let fall: Int
    private(set) var isHealthy: Bool
    /// Consecutive results that disagree with `isHealthy`.
    private(set) var streak = 0

    init(rise: Int, fall: Int, healthy: Bool = true) {
        precondition(rise >= 1 && fall >= 1)
        self.rise = rise
        self.fall = fall
        self.isHealthy = healthy
    }

    /// Records one check result; returns the transition it caused, if any.
    mutating func record(success: Bool) -> Transition? {
        guard success != isHealthy else {
            streak = 0
            return nil
        }
        streak += 1
        guard streak >= (isHealthy ? fall : rise) else { return nil }
        streak = 0
        isHealthy.toggle()
        return isHealthy ? .becameHealthy : .becameUnhealthy
    }
}
