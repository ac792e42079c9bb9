package pay1st

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// MaxNestingDepth bounds how deeply arrays and objects may nest anywhere in a
// body. An event is flat (depth 1); the margin is for unknown extra fields.
// The bound is checked before any decoding, so a hostile body of thousands of
// '[' costs one linear scan and no recursion.
const MaxNestingDepth = 32

// checkDepth scans body once, outside string literals, and fails if brackets
// nest deeper than MaxNestingDepth. It does not validate the JSON otherwise.
func checkDepth(body []byte) error {
	depth, inString, escaped := 0, false, false
	for i, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > MaxNestingDepth {
				return fmt.Errorf("%w: nesting deeper than %d at byte %d", ErrMalformed, MaxNestingDepth, i)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// decodeObject decodes body as exactly one JSON object and returns its members
// as raw values. It rejects anything that is not an object, trailing data and
// duplicate member names: with duplicates, two parsers may disagree on which
// value counts, and a payment's status must not be ambiguous.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if err := checkDepth(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty body", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: top level is %s, not an object", ErrMalformed, tokenKind(tok))
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, unexpectedEOF(err))
		}
		name, ok := tok.(string)
		if !ok {
			// Unreachable with encoding/json (it reports a syntax error), kept
			// so a decoder change cannot turn into a panic.
			return nil, fmt.Errorf("%w: object member name is not a string", ErrMalformed)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: member %q: %w", ErrMalformed, name, unexpectedEOF(err))
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("%w: duplicate member %q", ErrMalformed, name)
		}
		members[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fmt.Errorf("%w: %w", ErrMalformed, unexpectedEOF(err))
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], jsonWhitespace); len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing data after the object at byte %d", ErrMalformed, dec.InputOffset())
	}
	return members, nil
}

// jsonWhitespace is the insignificant whitespace of RFC 8259.
const jsonWhitespace = " \t\r\n"

// unexpectedEOF names truncation: the decoder reports it as a bare io.EOF,
// which reads as success to anyone checking for EOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "a delimiter"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unknown token"
}

// rawKind names the JSON type of a syntactically valid raw value.
func rawKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// unquote decodes a JSON string literal strictly. encoding/json silently
// turns invalid UTF-8 and unpaired surrogate escapes into U+FFFD; here both
// are errors, so the decoded value is always what the sender meant. It
// returns a problem description rather than an error: callers wrap it into a
// FieldError.
func unquote(raw []byte) (string, string) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", "must be a JSON string, got " + rawKind(raw)
	}
	in := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '\\':
			if i+1 >= len(in) {
				return "", "has a truncated escape"
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n, problem := unescapeUnicode(in[i:])
				if problem != "" {
					return "", problem
				}
				out = utf8.AppendRune(out, r)
				i += n
				continue
			default:
				return "", "has an invalid escape"
			}
			i += 2
		case c < 0x20:
			return "", "contains a raw control character"
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", "is not valid UTF-8"
			}
			out = append(out, in[i:i+n]...)
			i += n
		}
	}
	return string(out), ""
}

// unescapeUnicode decodes a \uXXXX escape at the start of in, joining a
// surrogate pair when one follows. It returns the rune and bytes consumed.
func unescapeUnicode(in []byte) (rune, int, string) {
	r, ok := hex4(in)
	if !ok {
		return 0, 0, "has an invalid \\u escape"
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, ""
	}
	if r >= 0xDC00 { // a low surrogate cannot come first
		return 0, 0, "is not valid UTF-8 (unpaired surrogate)"
	}
	r2, ok := hex4(in[6:])
	if !ok {
		return 0, 0, "is not valid UTF-8 (unpaired surrogate)"
	}
	joined := utf16.DecodeRune(r, r2)
	if joined == utf8.RuneError {
		return 0, 0, "is not valid UTF-8 (unpaired surrogate)"
	}
	return joined, 12, ""
}

// hex4 reads `\uXXXX` at the start of in.
func hex4(in []byte) (rune, bool) {
	if len(in) < 6 || in[0] != '\\' || in[1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(in[2:6]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}

// maxExponent caps the magnitude of a literal's exponent while it is read.
// Anything that large fails every limit anyway; the cap keeps the arithmetic
// far from int64 overflow whatever the literal's length.
const maxExponent = 1 << 40

// decimalShape is a decimal reduced to its significant digits: the value is
// (-1 if neg) × digits × 10^exp, digits has no leading or trailing zeros, and
// "" means zero (never negative). Limits are checked on the shape, so a
// literal like 1e400000000 is rejected without ever being materialised.
type decimalShape struct {
	neg    bool
	digits string
	exp    int64
}

// shapeOfLiteral analyses a JSON number literal. ok is false if raw is not
// one (a string, an object, ...).
func shapeOfLiteral(raw []byte) (s decimalShape, ok bool) {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		s.neg = true
		i++
	}
	intStart := i
	for i < len(raw) && isDigit(raw[i]) {
		i++
	}
	intPart := raw[intStart:i]
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') {
		return decimalShape{}, false
	}
	var fracPart []byte
	if i < len(raw) && raw[i] == '.' {
		i++
		fracStart := i
		for i < len(raw) && isDigit(raw[i]) {
			i++
		}
		fracPart = raw[fracStart:i]
		if len(fracPart) == 0 {
			return decimalShape{}, false
		}
	}
	var exp int64
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		expNeg := false
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			expNeg = raw[i] == '-'
			i++
		}
		expStart := i
		for ; i < len(raw) && isDigit(raw[i]); i++ {
			if exp < maxExponent {
				exp = exp*10 + int64(raw[i]-'0')
			}
		}
		if i == expStart {
			return decimalShape{}, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(raw) {
		return decimalShape{}, false
	}
	digits := string(intPart) + string(fracPart)
	s.exp = exp - int64(len(fracPart))
	return normalizeShape(s.neg, digits, s.exp), true
}

// shapeOfDecimal reduces an already built decimal to its shape.
func shapeOfDecimal(d decimal.Decimal) decimalShape {
	c := d.Coefficient()
	neg := c.Sign() < 0
	return normalizeShape(neg, c.Abs(c).String(), int64(d.Exponent()))
}

func normalizeShape(neg bool, digits string, exp int64) decimalShape {
	start := 0
	for start < len(digits) && digits[start] == '0' {
		start++
	}
	digits = digits[start:]
	end := len(digits)
	for end > 0 && digits[end-1] == '0' {
		end--
	}
	exp += int64(len(digits) - end)
	digits = digits[:end]
	if digits == "" {
		return decimalShape{} // zero: -0 is 0
	}
	return decimalShape{neg: neg, digits: digits, exp: exp}
}

// intDigits is the number of digits before the decimal point (0 for |v| < 1).
func (s decimalShape) intDigits() int64 {
	return max(0, int64(len(s.digits))+s.exp)
}

// fracDigits is the number of significant digits after the decimal point.
func (s decimalShape) fracDigits() int64 {
	return max(0, -s.exp)
}

// decimal builds the value. Only call it on shapes that passed a digit limit:
// a positive exponent is expanded into the coefficient so the result never
// carries a positive exponent.
func (s decimalShape) decimal() decimal.Decimal {
	if s.digits == "" {
		return decimal.Zero
	}
	digits, exp := s.digits, s.exp
	if exp > 0 {
		digits += strings.Repeat("0", int(exp))
		exp = 0
	}
	coef, ok := new(big.Int).SetString(digits, 10)
	if !ok { // unreachable: digits are ASCII digits by construction
		return decimal.Zero
	}
	if s.neg {
		coef.Neg(coef)
	}
	return decimal.NewFromBigInt(coef, int32(exp))
}

// maxPlainDigits bounds how many zeros String pads with; beyond it the
// exponent form keeps the output small whatever the value.
const maxPlainDigits = 64

// String writes the shape as a JSON number: plain notation ("1234.56",
// "100", "0.00000001") unless that would need more than maxPlainDigits
// padding zeros, then exponent form ("1E400"). It ignores decimal's
// package-level formatting switches, which other code may flip.
func (s decimalShape) String() string {
	if s.digits == "" {
		return "0"
	}
	sign := ""
	if s.neg {
		sign = "-"
	}
	switch n := int64(len(s.digits)); {
	case s.exp >= 0 && s.exp <= maxPlainDigits:
		return sign + s.digits + strings.Repeat("0", int(s.exp))
	case s.exp < 0 && -s.exp < n:
		return sign + s.digits[:n+s.exp] + "." + s.digits[n+s.exp:]
	case s.exp < 0 && -s.exp-n <= maxPlainDigits:
		return sign + "0." + strings.Repeat("0", int(-s.exp-n)) + s.digits
	}
	return sign + s.digits + "E" + strconv.FormatInt(s.exp, 10)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
