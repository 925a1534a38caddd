// Certificates made by OpenSSL 3 (not by the code under test), for from_pem and for handshakes with foreign
// certificates whose dates are outside any clock reading: the EC one expired in 2011, the RSA one is valid
// only from 2090. Made with `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1` (and
// rsa:2048) and `openssl ca -selfsign -startdate ... -enddate ...`; the fingerprints are from
// `openssl x509 -noout -fingerprint -sha256` (-sha1, -sha512).
#pragma once

namespace tandem::test::dtls {

inline constexpr char kOpensslEcCert[] = R"(
-----BEGIN CERTIFICATE-----
MIIBCjCBsAIBATAKBggqhkjOPQQDAjARMQ8wDQYDVQQDDAZXZWJSVEMwHhcNMTAw
MTAxMDAwMDAwWhcNMTEwMTAxMDAwMDAwWjARMQ8wDQYDVQQDDAZXZWJSVEMwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAASqFZS1f5P4fJbee5yuJLa+mWizKw0OX6Gq
SMdcMwzfz0DOsfyeDZLz0spsqjUKtVakrou4eS5u74aX51r40buHMAoGCCqGSM49
BAMCA0kAMEYCIQDCaF6VDpxO2Zz/fmUcb1sgi/yWpK+ppIxT63ZDktCK4AIhAKEj
XGIUOQlWyPxDHvm1lpxGYZOJjxx10LAP4Q38hThQ
-----END CERTIFICATE-----
)";
inline constexpr char kOpensslEcKey[] = R"(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgf1TdUyD7CNO8Mp/v
bOVH1tMdzVK2V96tVF1mNmFLIGWhRANCAASqFZS1f5P4fJbee5yuJLa+mWizKw0O
X6GqSMdcMwzfz0DOsfyeDZLz0spsqjUKtVakrou4eS5u74aX51r40buH
-----END PRIVATE KEY-----
)";
inline constexpr char kOpensslEcSha256[] =
    "84:12:1A:46:7C:A5:FA:B0:46:93:CC:D1:80:CE:05:DB:"
    "6B:BF:1A:5E:5C:38:56:F0:8F:57:72:F4:D6:FC:F2:5B";
inline constexpr char kOpensslEcSha1[] = "76:D5:DB:62:9F:E3:76:F2:B1:27:9D:CD:77:88:CC:ED:6E:B4:98:A9";
inline constexpr char kOpensslEcSha512[] =
    "7A:FA:0A:19:66:64:64:04:F9:DE:13:57:E6:97:EF:11:"
    "B0:39:39:1B:0C:E5:FE:92:F3:D3:36:F9:04:E3:EE:51:"
    "27:BB:6A:6B:9C:A8:61:EB:3A:EE:D3:75:26:A7:D2:B2:"
    "8C:FC:04:5E:31:A3:6F:6D:AC:55:BD:3F:0F:AD:E8:DB";

inline constexpr char kOpensslRsaCert[] = R"(
-----BEGIN CERTIFICATE-----
MIICmjCCAYICAQIwDQYJKoZIhvcNAQELBQAwETEPMA0GA1UEAwwGV2ViUlRDMCIY
DzIwOTAwMTAxMDAwMDAwWhgPMjA5MTAxMDEwMDAwMDBaMBExDzANBgNVBAMMBldl
YlJUQzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAKOxbOCKZnQdQjWh
h6WckBT0oLg1J2buNPNtOFwujVe0E0AC583dQbeE5al32Ixrr3/1Ohjd3m5TTvwj
ouis+pBS291Yl836K0/r5awupwDqpyJKwi0xIwJ7yXqlKGL1iuqJfxQxPFSWmYyn
QS/MsgVIZ6vduu71JoQjDTZcIVkxI0CzaQtlK7K1EjbuzwXY14xOwPATUqUWppUW
y2yyOjCjEJwPx7Wb7tBi45gAeXaE1CbA2LJPQFi8ybEVSniuCD+YRJaqhaUFtVVz
zcP6oVqGC6iCyZ9t88h4qCKgQpUtGqxvNU3WfHyn/n1ahI5ed2ZeM6Go2AUHtRh6
akib8H0CAwEAATANBgkqhkiG9w0BAQsFAAOCAQEAY8jusciiBqn0ccihRSpD5OJn
DOeDesQpi69e9BC+g4NHgTOU/hutZm+8PkN6dAyFbVlL7OdcS81AmETnv9J6UETz
CWRWQ25D01j7qUbAUeGJTBvc+J5gtRcfgrE1haejQ700UxBI2Panp1h4o6QGVs0E
dNJl0r9vtd17VCP47MN4EOXD8ExBNql8n6Vf32ThA7vf5JbhINXCskY60XNOB1xV
nvr66BdKzRw15ZBuK96xVSCbRgnVOa2imOE9msMgbQAD51VbVs7ZZoNdxAKwWBqt
70clkDYOSSOHPc4y7EIQPWyVhYSjjbSR9+RmO5YnJV3r4JdjZBdP6ls0Sl/aZQ==
-----END CERTIFICATE-----
)";
inline constexpr char kOpensslRsaKey[] = R"(
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCjsWzgimZ0HUI1
oYelnJAU9KC4NSdm7jTzbThcLo1XtBNAAufN3UG3hOWpd9iMa69/9ToY3d5uU078
I6LorPqQUtvdWJfN+itP6+WsLqcA6qciSsItMSMCe8l6pShi9YrqiX8UMTxUlpmM
p0EvzLIFSGer3bru9SaEIw02XCFZMSNAs2kLZSuytRI27s8F2NeMTsDwE1KlFqaV
FstssjowoxCcD8e1m+7QYuOYAHl2hNQmwNiyT0BYvMmxFUp4rgg/mESWqoWlBbVV
c83D+qFahguogsmfbfPIeKgioEKVLRqsbzVN1nx8p/59WoSOXndmXjOhqNgFB7UY
empIm/B9AgMBAAECggEAKKYuLeJgh9QeNXg72aXz56hJ4wScGMTtlEeal9Wdltpq
b1ppWudnYt3XNErFFTXGmqV4fGVYT5hThGyLD3GpNT7GR4SxCd7mc43WdngNU75x
q6PZ7WQG2B6KTXEHAvALw6tKSebiHvVZAyMjnm2cBZDR4c2Jlr59BpI3vTiKtX2G
7auuTAwcRjuZH/oqQva3ZttqCTFAmNS2cwB0nn2NGKhCPI/3T6Wv58RnW/ucqSaY
85gy7hgIV2FyiNLqt86TMyGWgr0BgcqqrxHirJJNxUQc2RwNbKTIDXq8xgffWx7h
27ka3YzgIzAM39eAZDOhj+xYY8NfSYs+ZRfSoQzksQKBgQDaLezwIxLtDiFPmMdH
XMJW0AUebzRplggyrDcsbZEGdHzOsxFgj60EysHu6RjuGfFS6BHJyOKtU5xbItFA
9O8WdjEZbVim4RIXWGB1VxmavVbj/hD2r+b3cXpuZbzv9rfhU+HeY0jgIwC+NEw9
VBoZBDUOl7L7FBBBr2FrNAg+ZQKBgQDAEZP8qNP7VAh23DyWvF2S3wXM3u6w5qQQ
xGOUSQTxCTKpjwuyZjrt3mSW5OQGxKqQSac5aPbwApLowkMx5/U6ozixEyHXnIV1
nQzGNOFNuJB3tH9sELz78UUF2wxXQGldI15+aYHbfW21li670vF/iqzVGMAeyfaY
MK2Yb3ccOQKBgQDNxLyO6nViD46JFGz1t90tpPj+8CB9aFuI9vT+OMOrU9eV1jqQ
WFD0kQmAemThwqPf7jFAnu5yS8XOCjNSUO7gv02lToRqtyCp1db7M89ZKjM1yZtU
HSf2vRab4eXkZ0qa/9KpO/gyM7Dysj4pJRWL/HTRs27A7/Y5DOATDDquJQKBgQCp
sh4tGkEIiktcMOO7Tjvimvd19fWwCGcmhU1x4z3hdH31f3QXL+ma5mW7SAoLzNDh
4KFFwO6ESdHgolpaCpYJM9LP6JZ6+EiWDKcPrALv90R07t2x7ev7MUUJkmqJ4Ff3
OVuwlqlr8pru1/z8Z7iFNlHTiSWdTlV4S3Hk/36eSQKBgDD9xFPhtD5mVwA+d2rq
rGcWjkBfj0VlEZtTqwwh84R6bBfPPxlAxlc7sL6kztGBeHZCuXgwRErA/8n6pnE1
bMyDo+wbUvrZ+CbcGDRSa7rb92GQ/0HBvCZ2fdzZoR1fCnv2GwCwUceymjnKdHrS
fI+GPs5fNXRHONaGn682q9vo
-----END PRIVATE KEY-----
)";
inline constexpr char kOpensslRsaSha256[] =
    "3F:E9:9F:4A:9E:BC:9B:AC:E6:3E:F3:51:A0:26:74:32:"
    "06:E4:73:DE:2B:45:91:4D:6A:45:B1:A6:F5:0F:58:4E";

}  // namespace tandem::test::dtls
