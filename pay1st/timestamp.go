package pay1st

import (
	"errors"
	"fmt"
	"time"
)

// Errors of CheckTimestamp.
var (
	// ErrBadTimestamp: the X-TIMESTAMP value is not an accepted ISO-8601 date-time.
	ErrBadTimestamp = errors.New("pay1st: bad timestamp")
	// ErrStaleTimestamp: the X-TIMESTAMP value is too far from now, in either
	// direction; a replayed or badly clocked request.
	ErrStaleTimestamp = errors.New("pay1st: timestamp outside the allowed window")
)

// DefaultTimestampWindow is the ±5 minutes the protocol allows between a
// webhook's X-TIMESTAMP and our clock.
const DefaultTimestampWindow = 5 * time.Minute

// CheckTimestamp parses ts (an X-TIMESTAMP value, see ParseTime for the
// accepted forms) and fails with ErrStaleTimestamp if it is more than window
// away from now, in the past or the future. A malformed ts fails with
// ErrBadTimestamp. Both errors are wrapped with detail.
func CheckTimestamp(ts string, now time.Time, window time.Duration) error {
	t, err := ParseTime(ts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadTimestamp, err)
	}
	// Sub saturates instead of overflowing, so the comparison is safe for
	// any pair of times and any window.
	if d := now.Sub(t); d > window || d < -window {
		return fmt.Errorf("%w: now minus %s is %s, window is ±%s", ErrStaleTimestamp, ts, d, window)
	}
	return nil
}

// Bounds of accepted dates. The lower bound catches zero and epoch-less
// values; the upper keeps every accepted date formattable as RFC 3339 (a
// four-digit year) once converted to UTC.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// errTimeFormat is deliberately terse: the caller adds which field or header.
var errTimeFormat = errors.New("want an ISO-8601 date-time like 2006-01-02T15:04:05.999999999Z")

// ParseTime parses the ISO-8601 date-times Pay1st sends, in UTC. Accepted:
//
//	2006-01-02T15:04:05Z                    RFC 3339
//	2006-01-02T15:04:05.999999999+07:00     fraction of 1 to 9 digits, any offset
//	2006-01-02T15:04:05.999999999           no zone: taken as UTC
//	2006-01-02T15:04Z, 2006-01-02T15:04     seconds omitted, as java.time's
//	                                        toString writes a whole minute
//
// The 'T' and 'Z' are upper case; offsets are ±hh:mm. Nothing else is
// accepted (no date-only, no week dates, no comma fractions, no leap second),
// and the instant must lie in 1970-01-01 .. 9999-12-31 UTC.
func ParseTime(s string) (time.Time, error) {
	p := timeParser{s: s}
	year := p.num(4)
	p.lit('-')
	month := p.num(2)
	p.lit('-')
	day := p.num(2)
	p.lit('T')
	hour := p.num(2)
	p.lit(':')
	minute := p.num(2)
	sec, nsec := 0, 0
	if p.peek(':') {
		p.lit(':')
		sec = p.num(2)
		if p.peek('.') {
			p.lit('.')
			nsec = p.fraction()
		}
	}
	offset := 0
	switch {
	case p.peek('Z'):
		p.lit('Z')
	case p.peek('+'), p.peek('-'):
		sign := 1
		if p.peek('-') {
			sign = -1
		}
		p.i++
		oh := p.num(2)
		p.lit(':')
		om := p.num(2)
		if oh > 23 || om > 59 {
			p.bad = true
		}
		offset = sign * (oh*3600 + om*60)
	}
	if p.bad || p.i != len(s) {
		return time.Time{}, fmt.Errorf("%q: %w", s, errTimeFormat)
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("%q: date or time out of range", s)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).
		Add(-time.Duration(offset) * time.Second)
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("%q: outside %d..%d", s, minTime.Year(), maxTime.Year())
	}
	return t, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// timeParser reads fixed-width fields; the first mismatch sets bad and the
// rest of the reads become no-ops, so ParseTime reads straight through.
type timeParser struct {
	s   string
	i   int
	bad bool
}

func (p *timeParser) peek(c byte) bool {
	return !p.bad && p.i < len(p.s) && p.s[p.i] == c
}

func (p *timeParser) lit(c byte) {
	if !p.peek(c) {
		p.bad = true
		return
	}
	p.i++
}

func (p *timeParser) num(width int) int {
	if p.bad || p.i+width > len(p.s) {
		p.bad = true
		return 0
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+width]) {
		if !isDigit(c) {
			p.bad = true
			return 0
		}
		v = v*10 + int(c-'0')
	}
	p.i += width
	return v
}

// fraction reads 1 to 9 digits as nanoseconds.
func (p *timeParser) fraction() int {
	v, n := 0, 0
	for ; p.i < len(p.s) && isDigit(p.s[p.i]); p.i++ {
		if n == 9 {
			p.bad = true
			return 0
		}
		v = v*10 + int(p.s[p.i]-'0')
		n++
	}
	if n == 0 {
		p.bad = true
		return 0
	}
	for ; n < 9; n++ {
		v *= 10
	}
	return v
}
