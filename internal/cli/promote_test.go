package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// promoteAPI answers create-promotion: dry runs with plans[0], plans[1],
// ... (the last one repeats), the apply with applied; it counts applies.
type promoteAPI struct {
	mu      sync.Mutex
	plans   []string // the changes arrays, as JSON
	applied string
	dry     int
	applies int
}

func (f *promoteAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body struct {
		DryRun bool `json:"dryRun"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	w.Header().Set("Content-Type", "application/json")
	if body.DryRun {
		plan := f.plans[min(f.dry, len(f.plans)-1)]
		f.dry++
		fmt.Fprintf(w, `{"dryRun":true,"applied":false,"changes":%s}`, plan)
		return
	}
	f.applies++
	fmt.Fprintf(w, `{"dryRun":false,"applied":true,"changes":%s}`, f.applied)
}

func (f *promoteAPI) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dry, f.applies
}

const (
	planDelete = `[{"action":"delete","kind":"product","key":"Gold","fields":null}]`
	planPrices = `[{"action":"update","kind":"bundle","key":"gold-100","fields":["prices"]}]`
	// The same rows as planPrices, with a field the table does not show
	// (the comparison is of everything the API returns).
	planPricesTo = `[{"action":"update","kind":"bundle","key":"gold-100","fields":["prices"],"to":"1600"}]`
	planName     = `[{"action":"update","kind":"bundle","key":"gold-100","fields":["name","prices"]}]`
)

// With --output json on a terminal, the diff is shown on stderr before the
// question (stdout stays the applied promotion's JSON).
func TestPromoteJSONShowsDiffBeforeAsking(t *testing.T) {
	t.Parallel()
	api := &promoteAPI{plans: []string{planDelete}, applied: planDelete}
	srv := fakeServer(t, api.ServeHTTP)
	e, out, errb := testEnv(t, srv.URL, true)
	e.inTerminal, e.in = true, strings.NewReader("y\n")
	require.NoError(t, promote(context.Background(), e, []string{"--tenant", "acme"}))
	stderr := errb.String()
	diff, question := strings.Index(stderr, "delete  product  Gold"), strings.Index(stderr, "[y/N]")
	require.True(t, diff >= 0 && question > diff, "the diff before the question:\n%s", stderr)
	var res map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	require.Equal(t, true, res["applied"])
}

// After a yes, promote plans again: if the plan changed in anything the
// API returns (not only what the table shows), it shows the new one and
// asks again; only a yes to the plan as it stands applies it.
func TestPromoteAsksAgainWhenThePlanChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		plans []string
	}{
		{"other fields", []string{planPrices, planName}},
		{"same rows, other values", []string{planPrices, planPricesTo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Two yeses: the second is to the new plan, which is applied.
			api := &promoteAPI{plans: tc.plans, applied: tc.plans[1]}
			srv := fakeServer(t, api.ServeHTTP)
			e, out, errb := testEnv(t, srv.URL, false)
			e.inTerminal, e.in = true, strings.NewReader("y\ny\n")
			require.NoError(t, promote(context.Background(), e, []string{"--tenant", "acme"}))
			require.Equal(t, 2, strings.Count(errb.String(), "[y/N]"), errb.String())
			require.Contains(t, out.String(), "changed since the diff above")
			require.NotContains(t, out.String(), "applied instead", "what was applied is what was confirmed")
			require.Contains(t, out.String(), "Promoted: 1 change(s)")
			dry, applies := api.counts()
			require.Equal(t, 3, dry)
			require.Equal(t, 1, applies)

			// One yes only: the changed plan is not applied (exit 1).
			api = &promoteAPI{plans: tc.plans, applied: tc.plans[1]}
			srv = fakeServer(t, api.ServeHTTP)
			e, _, _ = testEnv(t, srv.URL, false)
			e.inTerminal, e.in = true, strings.NewReader("y\n")
			err := promote(context.Background(), e, []string{"--tenant", "acme"})
			require.Equal(t, ExitFailed, ExitCode(err), "%v", err)
			require.ErrorContains(t, err, "not applied")
			_, applies = api.counts()
			require.Zero(t, applies)
		})
	}
}

// A plan that keeps changing while asking gives up after maxReplans.
func TestPromoteGivesUpOnAMovingPlan(t *testing.T) {
	t.Parallel()
	api := &promoteAPI{plans: []string{planPrices, planName, planPrices, planName, planPrices}, applied: planPrices}
	srv := fakeServer(t, api.ServeHTTP)
	e, _, _ := testEnv(t, srv.URL, false)
	e.inTerminal, e.in = true, strings.NewReader(strings.Repeat("y\n", 10))
	err := promote(context.Background(), e, []string{"--tenant", "acme"})
	require.Equal(t, ExitFailed, ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "changed 3 times")
	_, applies := api.counts()
	require.Zero(t, applies)
}

// With --yes there is no wait to re-check: it applies, and when the server
// applied something else than previewed it prints what (stderr with
// --output json, whose stdout is the applied promotion).
func TestPromoteYesPrintsWhatWasApplied(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{false, true} {
		api := &promoteAPI{plans: []string{planPrices}, applied: planPricesTo}
		srv := fakeServer(t, api.ServeHTTP)
		e, out, errb := testEnv(t, srv.URL, jsonOut)
		require.NoError(t, promote(context.Background(), e, []string{"--tenant", "acme", "--yes"}))
		notes := out.String()
		if jsonOut {
			notes = errb.String()
			require.True(t, json.Valid(out.Bytes()), out.String())
		}
		require.Contains(t, notes, "changed since the preview; applied instead:")
		dry, applies := api.counts()
		require.Equal(t, 1, dry)
		require.Equal(t, 1, applies)
	}
}

// Answering no (or nothing) applies nothing and exits 1, for promote and
// catalog import alike.
func TestDeclinedIsNotApplied(t *testing.T) {
	t.Parallel()
	api := &promoteAPI{plans: []string{planDelete}, applied: planDelete}
	srv := fakeServer(t, api.ServeHTTP)
	e, _, _ := testEnv(t, srv.URL, false)
	e.inTerminal, e.in = true, strings.NewReader("n\n")
	err := promote(context.Background(), e, []string{"--tenant", "acme"})
	require.Equal(t, ExitFailed, ExitCode(err), "%v", err)
	require.ErrorContains(t, err, "not applied")
	_, applies := api.counts()
	require.Zero(t, applies)
}
