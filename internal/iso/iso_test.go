package iso_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/iso"
)

func TestValidCountry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"ZA", true}, {"NG", true}, {"KE", true}, {"US", true}, {"GB", true},
		{"GH", true}, {"EG", true}, {"SS", true}, {"CW", true}, {"AQ", true},
		{"XX", false}, // user-assigned
		{"UK", false}, // exceptionally reserved: the United Kingdom is GB
		{"EU", false}, // exceptionally reserved: not a country
		{"XK", false}, // Kosovo's user-assigned code, not ISO's
		{"AN", false}, // Netherlands Antilles, withdrawn 2010
		{"YU", false}, // Yugoslavia, transitionally reserved
		{"ZZ", false},
		{"za", false}, // upper case only
		{"Za", false},
		{"ZAF", false}, // alpha-3
		{"710", false}, // numeric
		{"Z", false},
		{"", false},
		{" ZA", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, iso.ValidCountry(tt.code), "%q", tt.code)
	}
}

func TestValidCurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"ZAR", true}, {"NGN", true}, {"KES", true}, {"USD", true}, {"EUR", true},
		{"GHS", true}, {"EGP", true}, {"XOF", true}, {"XAF", true},
		{"SLE", true}, {"MRU", true}, {"VES", true}, {"ZWG", true}, {"XCG", true}, // recent
		{"XXX", false}, // "no currency": prices nothing
		{"XTS", false}, // reserved for testing
		{"ABC", false},
		{"usd", false}, // upper case only
		{"Usd", false},
		{"HRK", false}, // withdrawn 2023 (euro)
		{"ZWL", false}, // replaced by ZWG
		{"SLL", false}, // replaced by SLE
		{"DEM", false}, // long withdrawn
		{"840", false}, // numeric
		{"US", false},
		{"USDT", false},
		{"", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, iso.ValidCurrency(tt.code), "%q", tt.code)
	}
}
