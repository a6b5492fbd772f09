import MQTTCore

extension TopicFilter {
    /// Whether every topic that `subscription` matches is also matched by this filter: `sensors/#` covers
    /// `sensors/+/temp`, `a/#` covers `a`, but `sensors/+` does not cover `sensors/#`.
    ///
    /// Both sides are compared by their filter proper (the `$share/<group>/` prefix is ignored), and the `$` rule
    /// [MQTT-4.7.2-1] holds: a filter starting with a wildcard covers no subscription whose first level starts with
    /// `$` (`#` does not cover `$SYS/#`).
    public func covers(_ subscription: TopicFilter) -> Bool {
        FilterLevel.levels(of: filter).covers(FilterLevel.levels(of: subscription.filter))
    }

    /// Whether some topic name is matched by both filters (share prefixes ignored, `$` rule applied).
    public func overlaps(_ other: TopicFilter) -> Bool {
        FilterLevel.levels(of: filter).overlaps(FilterLevel.levels(of: other.filter))
    }
}
