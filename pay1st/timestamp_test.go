package pay1st

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: want an error
	}{
		{"2025-03-17T08:10:52Z", utc(2025, 3, 17, 8, 10, 52, 0)},
		{"2025-03-17T08:10:52.544247646Z", utc(2025, 3, 17, 8, 10, 52, 544247646)},
		{"2025-03-17T08:10:52.5Z", utc(2025, 3, 17, 8, 10, 52, 500000000)},
		{"2025-03-17T08:10:52.123+01:00", utc(2025, 3, 17, 7, 10, 52, 123000000)},
		{"2025-03-17T08:10:52-05:30", utc(2025, 3, 17, 13, 40, 52, 0)},
		{"2025-03-17T08:10:52-00:00", utc(2025, 3, 17, 8, 10, 52, 0)},
		{"2025-03-17T08:10:52", utc(2025, 3, 17, 8, 10, 52, 0)},
		{"2025-03-17T08:10:52.000000001", utc(2025, 3, 17, 8, 10, 52, 1)},
		{"2025-03-17T08:10Z", utc(2025, 3, 17, 8, 10, 0, 0)},
		{"2025-03-17T08:10", utc(2025, 3, 17, 8, 10, 0, 0)},
		{"2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"1970-01-01T00:00:00Z", utc(1970, 1, 1, 0, 0, 0, 0)},
		{"9999-12-31T23:59:59.999999999Z", utc(9999, 12, 31, 23, 59, 59, 999999999)},

		{"", time.Time{}},
		{"2025-03-17", time.Time{}},
		{"2025-03-17 08:10:52Z", time.Time{}},
		{"2025-03-17t08:10:52z", time.Time{}},
		{"2025-03-17T08:10:52.Z", time.Time{}},
		{"2025-03-17T08:10:52,5Z", time.Time{}},
		{"2025-03-17T08:10:52.1234567890Z", time.Time{}},
		{"2025-03-17T08:10:52+0100", time.Time{}},
		{"2025-03-17T08:10:52+01", time.Time{}},
		{"2025-03-17T08:10:52+24:00", time.Time{}},
		{"2025-03-17T08:10:52ZZ", time.Time{}},
		{"2025-03-17T08:10:52Z ", time.Time{}},
		{" 2025-03-17T08:10:52Z", time.Time{}},
		{"2025-3-17T08:10:52Z", time.Time{}},
		{"+2025-03-17T08:10:52Z", time.Time{}},
		{"2025-03-17T08:10:.5Z", time.Time{}},
		{"2023-02-29T00:00:00Z", time.Time{}},
		{"2025-13-01T00:00:00Z", time.Time{}},
		{"2025-00-01T00:00:00Z", time.Time{}},
		{"2025-03-00T00:00:00Z", time.Time{}},
		{"2025-03-17T24:00:00Z", time.Time{}},
		{"2025-03-17T23:60:00Z", time.Time{}},
		{"2025-12-31T23:59:60Z", time.Time{}},
		{"1969-12-31T23:59:59Z", time.Time{}},
		{"1970-01-01T00:00:00+00:01", time.Time{}},
		{"9999-12-31T23:59:59-00:01", time.Time{}},
		{"1742199052", time.Time{}},
		{"2025-03-17T08:10:52.544247646Z\x00", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tc.in)
			if tc.want.IsZero() {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestCheckTimestamp(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 17, 8, 10, 52, 0, time.UTC)
	tests := []struct {
		name   string
		ts     string
		now    time.Time
		window time.Duration
		want   error
	}{
		{"exact", "2025-03-17T08:10:52Z", now, DefaultTimestampWindow, nil},
		{"vector timestamp", gatewayVectorTimestamp, now, DefaultTimestampWindow, nil},
		{"edge in the past", "2025-03-17T08:05:52Z", now, DefaultTimestampWindow, nil},
		{"edge in the future", "2025-03-17T08:15:52Z", now, DefaultTimestampWindow, nil},
		{"just too old", "2025-03-17T08:05:51.999999999Z", now, DefaultTimestampWindow, ErrStaleTimestamp},
		{"just too new", "2025-03-17T08:15:52.000000001Z", now, DefaultTimestampWindow, ErrStaleTimestamp},
		{"other zone, same instant", "2025-03-17T10:10:52+02:00", now, DefaultTimestampWindow, nil},
		{"zone-less is UTC", "2025-03-17T10:10:52", now, DefaultTimestampWindow, ErrStaleTimestamp},
		{"far past", "1970-01-01T00:00:00Z", now, DefaultTimestampWindow, ErrStaleTimestamp},
		{"now far in the future", "2025-03-17T08:10:52Z", time.Date(292277026596, 1, 1, 0, 0, 0, 0, time.UTC), time.Duration(math.MaxInt64), ErrStaleTimestamp},
		{"zero window", "2025-03-17T08:10:52Z", now, 0, nil},
		{"negative window", "2025-03-17T08:10:52Z", now, -time.Second, ErrStaleTimestamp},
		{"empty", "", now, DefaultTimestampWindow, ErrBadTimestamp},
		{"epoch seconds", "1742199052", now, DefaultTimestampWindow, ErrBadTimestamp},
		{"RFC 1123", "Mon, 17 Mar 2025 08:10:52 GMT", now, DefaultTimestampWindow, ErrBadTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckTimestamp(tc.ts, tc.now, tc.window)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}
