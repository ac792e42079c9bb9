package pay1st

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Header names of both signatures. Go's http.Header canonicalises them on
// lookup, so Get(HeaderSignature) also finds "X-Signature".
const (
	HeaderSignature = "X-SIGNATURE"
	HeaderTimestamp = "X-TIMESTAMP"
)

// SignRequest computes the Gateway request signature (protocol §5): lowercase
// hex HMAC-SHA256 with the Signing Key as key over the X-TIMESTAMP value
// immediately followed by the exact body bytes. partnerhub signs its
// outbound Gateway calls with it, and Payment Webhook Events in `signature`
// mode are verified with the same construction.
func SignRequest(signingKey, timestamp string, body []byte) string {
	return hex.EncodeToString(requestMAC(signingKey, timestamp, body))
}

// VerifyRequest reports whether signature is SignRequest's result for these
// inputs, comparing in constant time. Hex of either case is accepted. An
// empty key or signature never verifies, so an unconfigured key fails
// closed. Check the timestamp's freshness separately (CheckTimestamp).
func VerifyRequest(signingKey, timestamp string, body []byte, signature string) bool {
	if signingKey == "" {
		return false
	}
	return macEqual(requestMAC(signingKey, timestamp, body), signature)
}

func requestMAC(signingKey, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write([]byte(timestamp))
	m.Write(body)
	return m.Sum(nil)
}

// SummaryKey is the Summary Webhook's HMAC key (protocol §4): the ASCII text
// of base64(username:password), standard alphabet with padding, used as-is
// rather than decoded.
func SummaryKey(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}

// SignSummary computes the Summary Webhook signature: lowercase hex
// HMAC-SHA256 keyed with SummaryKey over the body with surrounding
// whitespace trimmed (ASCII space, \t, \n, \v, \f, \r: what both Java's
// trim and JSON consider insignificant around a document).
func SignSummary(username, password string, body []byte) string {
	return hex.EncodeToString(summaryMAC(username, password, body))
}

// VerifySummary reports whether signature is SignSummary's result, in
// constant time, accepting hex of either case. It is false when the username
// or password is empty (credentials not configured) or the signature is
// empty.
func VerifySummary(username, password string, body []byte, signature string) bool {
	if username == "" || password == "" {
		return false
	}
	return macEqual(summaryMAC(username, password, body), signature)
}

// summaryTrim is the whitespace trimmed around a summary body.
const summaryTrim = " \t\n\v\f\r"

func summaryMAC(username, password string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(SummaryKey(username, password)))
	m.Write(bytes.Trim(body, summaryTrim))
	return m.Sum(nil)
}

// macEqual compares an expected MAC with a hex signature. Decoding the
// signature is not constant-time, which is fine: the signature is the
// caller's input, not a secret; the comparison with the MAC is.
func macEqual(mac []byte, signature string) bool {
	if len(signature) != hex.EncodedLen(len(mac)) {
		return false
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(mac, got)
}
