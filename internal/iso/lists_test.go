package iso

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestListsWellFormed guards the hand-kept lists against a typo or a lost
// line: the sizes are the standards' own counts.
func TestListsWellFormed(t *testing.T) {
	t.Parallel()
	require.Len(t, countries, 249, "ISO 3166-1 assigns 249 alpha-2 codes")
	require.Len(t, currencies, 176, "ISO 4217 List One less XXX and XTS")
	two, three := regexp.MustCompile(`^[A-Z]{2}$`), regexp.MustCompile(`^[A-Z]{3}$`)
	for c := range countries {
		require.Regexp(t, two, c)
	}
	for c := range currencies {
		require.Regexp(t, three, c)
	}
}
