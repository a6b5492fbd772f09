import BrokerActors
import Testing

extension AuthTests {
    /// Made with mosquitto_passwd 2.0.11 (`mosquitto_passwd -c -b`, and `-H sha512` for the `$6$` lines), except
    /// henry's, whose non-default iteration count was made with Python's
    /// `hashlib.pbkdf2_hmac('sha512', b'correct horse', bytes(range(1, 13)), 1000, 64)`.
    static let mosquittoPasswordFile = """
        alice:$7$101$nMaXEq4qVBXcsVJ9$C0FV6uv6r8DdJuuhzeDtJQWfBrtebTcQ58WUULOd0Vx7AnmpnUun7YWFKSIT7pQ7tVlT3qysGvxISM5IkQINnA==
        bob:$7$101$jPEiaLR3t+CbEKmH$owGma0UscMYUIAyK9/HOtt2v9zH89Xr2f6uBEAWRchFBLc8y08MPInPPW0T6shswX9y4V00ZlDIyEQS0+kVFlQ==
        dave:$7$101$j9+AfqhmNsMrvaEW$6dzaCFFpqwsjsgEtdUJN3PEfm+n5v/+6LqeJg7VO4v/UQ4Udmr7jarQLXGBBbhammumgzkYI51aQdR0yAAczDg==
        eve:$7$101$QHDZXO9COOAzOQFj$xFR5HtfJhICS+M/Q6S927SdxKOr6mMVnGSApjFIWKWgefPrxW/Wez30QLq0YlpNeuXlVusnnLUNCCQKY4U3y1w==
        user with space:$7$101$op2nxoADmBWDWzB0$08n2PX4eqHlDlRtE2ACg8n0bxA3SM2oaZOU4VD2vOVHOU7r5FWeSU/CR9OPvj92Gh5WumM1qiOxFCIWMHRM2sg==
        carol:$6$UXN7mXYhBhBxo3fS$qzCjjYDbEHOtZBhYn1NZij140r+DOvJYmaDkqyPTiOHaCUW0NdYiI0fUabuYtpFUpJIgajTpL53nyxb+r8Ly8w==
        frank:$6$H2o8VNWAq4pBHCud$cCxc9zWrBL0/PKsiSwBGkD7vIOUdYgxJhehcx4vWrTmX7qu+wBxP/AdhUdigaXECOE6qZQBieqTKGd4l8g6gng==
        gräce:$6$rH1WgUJNWEvhIiAZ$yv3JT+OoOPGjQqhEacq94p7jdMHRJwqSNO6zflOWfrRVNsvzXVunIrvW3W+FgIt0N/gaDAllMs7Nrqe3kOvgqg==
        henry:$7$1000$AQIDBAUGBwgJCgsM$tGLKLWHdOOVi5QYCTE/yQauJjKZT84XrUlTHmijBs37klJudr8jcrIxUoQxxYAlNJe7LFgnnMgBruKze4qSrbg==

        """

    @Suite("PasswordFile")
    struct PasswordFileTests {
        static let vectors: [(user: String, password: String)] = [
            ("alice", "secret1"),
            ("bob", "p@ss:w0rd $7$"),
            ("dave", "ünïcødé"),
            ("eve", ""),
            ("user with space", "long-password-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789"),
            ("carol", "hunter2"),
            ("frank", ""),
            ("gräce", "ñ€😀"),
            ("henry", "correct horse"),
        ]

        @Test("mosquitto_passwd vectors verify", arguments: vectors)
        func verifiesMosquittoVectors(user: String, password: String) throws {
            let file = try PasswordFile(contents: mosquittoPasswordFile)
            #expect(file.count == Self.vectors.count)
            #expect(file.verify(username: user, password: Array(password.utf8)))
        }

        @Test("a wrong password does not verify", arguments: vectors)
        func rejectsWrongPassword(user: String, password: String) throws {
            let file = try PasswordFile(contents: mosquittoPasswordFile)
            #expect(!file.verify(username: user, password: Array((password + "x").utf8)))
            #expect(!file.verify(username: user, password: Array(password.utf8.dropLast())) || password.isEmpty)
            #expect(!file.verify(username: user, password: Array("wrong".utf8)))
        }

        @Test func unknownUserDoesNotVerify() throws {
            let file = try PasswordFile(contents: mosquittoPasswordFile)
            #expect(!file.contains(username: "mallory"))
            #expect(!file.verify(username: "mallory", password: Array("secret1".utf8)))
            // Names compare byte for byte: no case folding, no trimming.
            #expect(!file.verify(username: "Alice", password: Array("secret1".utf8)))
            #expect(!file.verify(username: "alice ", password: Array("secret1".utf8)))
            // Another user's password is not this user's.
            #expect(!file.verify(username: "bob", password: Array("secret1".utf8)))
        }

        @Test func userNamesCompareAsBytesNotCanonically() throws {
            // "gräce" in the file is precomposed (U+00E4); the decomposed spelling is a different user name.
            #expect(try PasswordFile(contents: mosquittoPasswordFile).contains(username: "gr\u{E4}ce"))
            #expect(try !PasswordFile(contents: mosquittoPasswordFile).contains(username: "gra\u{308}ce"))
        }

        @Test func commentsBlankLinesAndCRLFAreIgnored() throws {
            let contents =
                "# users\r\n\r\n   \n\t# indented comment\n"
                + "  alice:\(Self.goodHash)  \r\n"
            let file = try PasswordFile(contents: contents)
            #expect(file.count == 1)
            #expect(file.verify(username: "alice", password: Array("secret1".utf8)))
            #expect(try PasswordFile(contents: "").count == 0)
        }

        static let goodHash = "$7$101$nMaXEq4qVBXcsVJ9$C0FV6uv6r8DdJuuhzeDtJQWfBrtebTcQ58WUULOd0Vx7AnmpnUun7YWFKSIT7pQ7tVlT3qysGvxISM5IkQINnA=="
        static let good6 = "$6$UXN7mXYhBhBxo3fS$qzCjjYDbEHOtZBhYn1NZij140r+DOvJYmaDkqyPTiOHaCUW0NdYiI0fUabuYtpFUpJIgajTpL53nyxb+r8Ly8w=="

        static let malformed: [(line: String, kind: PasswordFileError.Kind)] = [
            ("alice", .missingSeparator),
            ("alice secret", .missingSeparator),
            (":\(goodHash)", .emptyUsername),
            ("alice:", .invalidHash(.malformed)),
            ("alice:secret1", .invalidHash(.malformed)),  // plain-text passwords are not accepted
            ("alice:$5$abc$def", .invalidHash(.unsupportedAlgorithm)),
            ("alice:$$x", .invalidHash(.unsupportedAlgorithm)),
            ("alice:$7$101$nMaXEq4qVBXcsVJ9", .invalidHash(.malformed)),
            ("alice:\(goodHash)$extra", .invalidHash(.malformed)),
            ("alice:$7$0$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidIterations)),
            ("alice:$7$-5$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidIterations)),
            ("alice:$7$abc$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidIterations)),
            ("alice:$7$99999999999999999999$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidIterations)),
            ("alice:$7$10000001$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidIterations)),
            ("alice:$7$101$$AAAA", .invalidHash(.invalidSalt)),
            ("alice:$7$101$not*base64$AAAA", .invalidHash(.invalidSalt)),
            ("alice:$7$101$nMaXEq4qVBXcsVJ9$AAAA", .invalidHash(.invalidHashLength)),
            ("alice:$7$101$nMaXEq4qVBXcsVJ9$", .invalidHash(.malformed)),
            ("alice:$7$101$nMaXEq4qVBXcsVJ9$!!!!", .invalidHash(.malformed)),
            ("alice:$6$UXN7mXYhBhBxo3fS$qzCj", .invalidHash(.invalidHashLength)),
            ("alice:$6$$qzCj", .invalidHash(.invalidSalt)),
            ("alice:$6$UXN7mXYhBhBxo3fS", .invalidHash(.malformed)),
        ]

        @Test("malformed lines are rejected with their line number", arguments: malformed)
        func rejectsMalformedLine(line: String, kind: PasswordFileError.Kind) {
            let contents = "# header\n\nok:\(Self.good6)\n\(line)\nlater:\(Self.goodHash)\n"
            #expect(throws: PasswordFileError(kind, line: 4)) { try PasswordFile(contents: contents) }
        }

        @Test func duplicateUserNamesAreRejected() {
            let contents = "alice:\(Self.goodHash)\nbob:\(Self.good6)\nalice:\(Self.good6)\n"
            #expect(throws: PasswordFileError(.duplicateUsername(firstLine: 1), line: 3)) {
                try PasswordFile(contents: contents)
            }
        }

        @Test func errorDescriptionNeverContainsTheHashOrLine() {
            let secretLine = "alice:$7$101$nMaXEq4qVBXcsVJ9$SECRETSECRET"
            do {
                _ = try PasswordFile(contents: "\n\(secretLine)\n")
                Issue.record("expected an error")
            } catch {
                #expect(error.description == "password file line 2: hash is not 64 bytes")
                #expect(!error.description.contains("SECRET"))
                #expect(!error.description.contains("nMaX"))
            }
        }
    }
}
