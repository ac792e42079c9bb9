package pay1st

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestShapeOfLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in               string
		ok               bool
		str              string // String() of the shape
		intDigs, fracDig int64
	}{
		{"0", true, "0", 0, 0},
		{"-0", true, "0", 0, 0},
		{"0.000", true, "0", 0, 0},
		{"0e99999", true, "0", 0, 0},
		{"1234.56", true, "1234.56", 4, 2},
		{"-1234.560", true, "-1234.56", 4, 2},
		{"100", true, "100", 3, 0},
		{"1E2", true, "100", 3, 0},
		{"1.5e+3", true, "1500", 4, 0},
		{"15e-1", true, "1.5", 1, 1},
		{"0.00000001", true, "0.00000001", 0, 8},
		{"1e-9", true, "0.000000001", 0, 9},
		{"1e400", true, "1E400", 401, 0},
		{"1e-400", true, "1E-400", 0, 400},
		{"12e64", true, "12" + "0000000000000000000000000000000000000000000000000000000000000000", 66, 0},
		{"", false, "", 0, 0},
		{"-", false, "", 0, 0},
		{"01", false, "", 0, 0},
		{"1.", false, "", 0, 0},
		{".5", false, "", 0, 0},
		{"1e", false, "", 0, 0},
		{"1e+", false, "", 0, 0},
		{"+1", false, "", 0, 0},
		{"1x", false, "", 0, 0},
		{`"1"`, false, "", 0, 0},
		{"NaN", false, "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			s, ok := shapeOfLiteral([]byte(tc.in))
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, tc.str, s.String())
			require.Equal(t, tc.intDigs, s.intDigits())
			require.Equal(t, tc.fracDig, s.fracDigits())
			// The shape of the decimal it builds is the same shape.
			if s.intDigits() < 100 && s.fracDigits() < 100 {
				require.Equal(t, s, shapeOfDecimal(s.decimal()))
			}
		})
	}
}

func TestShapeOfDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    decimal.Decimal
		want string
	}{
		{decimal.Decimal{}, "0"},
		{decimal.New(0, 5), "0"},
		{decimal.New(-150, -2), "-1.5"},
		{decimal.New(7, 3), "7000"},
		{decimal.RequireFromString("1234.5600"), "1234.56"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, shapeOfDecimal(tc.d).String())
	}
}

func TestUnquote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		problem  string // substring; "" for success
	}{
		{`""`, "", ""},
		{`"abc"`, "abc", ""},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", ""},
		{`"\u00e9\u00E9é"`, "ééé", ""},
		{`"\ud83d\ude00"`, "😀", ""},
		{`"\ud83d"`, "", "unpaired surrogate"},
		{`"\ude00"`, "", "unpaired surrogate"},
		{`"\ud83d\u0041"`, "", "unpaired surrogate"},
		{`"\ud83dx"`, "", "unpaired surrogate"},
		{`"\u12"`, "", `\u escape`},
		{`"\uzzzz"`, "", `\u escape`},
		{`"\x"`, "", "invalid escape"},
		{`"\"`, "", "truncated escape"},
		{"\"a\xffb\"", "", "UTF-8"},
		{"\"\xed\xa0\x80\"", "", "UTF-8"}, // a surrogate encoded in UTF-8
		{"\"a\x01\"", "", "control character"},
		{`123`, "", "got number"},
		{`"`, "", "got string"},
		{``, "", "got nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, problem := unquote([]byte(tc.in))
			if tc.problem != "" {
				require.Contains(t, problem, tc.problem)
				return
			}
			require.Empty(t, problem)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCheckDepth(t *testing.T) {
	t.Parallel()
	deep := func(n int) []byte {
		b := make([]byte, 0, 2*n)
		for range n {
			b = append(b, '[')
		}
		for range n {
			b = append(b, ']')
		}
		return b
	}
	require.NoError(t, checkDepth(deep(MaxNestingDepth)))
	require.ErrorIs(t, checkDepth(deep(MaxNestingDepth+1)), ErrMalformed)
	require.NoError(t, checkDepth([]byte(`["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[["]`)))
}
