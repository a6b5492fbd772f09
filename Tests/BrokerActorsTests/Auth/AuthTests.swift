import Testing

/// Groups the authentication and authorisation suites so `swift test --filter Auth` runs all of them.
@Suite("Auth")
enum AuthTests {}
