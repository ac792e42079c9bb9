package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// newTestWallet serves a wallet over a real gRPC connection (sdk.TestClient),
// configured on a fresh data directory, and returns the host's view of it.
func newTestWallet(t *testing.T) (sdk.Plugin, string) {
	t.Helper()
	dir := t.TempDir()
	p := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	require.NoError(t, p.Configure(t.Context(), sdk.ConfigureRequest{
		Settings: map[string]string{settingDataDir: dir}, PartnerCode: "acme", Environment: "staging",
	}))
	return p, dir
}

// readWallet decodes wallet.json the way other packages' tests do.
func readWallet(t *testing.T, dir string) walletFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	require.NoError(t, err)
	var f walletFile
	require.NoError(t, json.Unmarshal(data, &f))
	return f
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func gold(amount string, qty int64) sdk.Item {
	return sdk.Item{SKU: "gold", Quantity: qty, DigitalCurrencyCode: "GOLD", DigitalCurrencyName: "Gold",
		DigitalAmount: decimal.NewNullDecimal(dec(amount))}
}

func fulfilReq(key, payment, player string, items ...sdk.Item) sdk.FulfilRequest {
	return sdk.FulfilRequest{
		IdempotencyKey: key, PartnerCode: "acme", Environment: "staging", PlayerID: player, Items: items,
		Payment: sdk.Payment{Reference: payment, Amount: dec("1000.50"), CurrencyCode: "NGN", CountryCode: "NG", CustomerID: 77},
	}
}

func reverseReq(key, payment string) sdk.ReverseRequest {
	return sdk.ReverseRequest{
		IdempotencyKey: key, PartnerCode: "acme", Environment: "staging", Reason: sdk.ReasonRefund,
		Payment: sdk.Payment{Reference: payment, Amount: dec("1000.50"), CurrencyCode: "NGN"},
	}
}

func TestFulfilCreditsOnceAndWritesTheDocumentedFormat(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()

	req := fulfilReq("fulfil:PAY-1", "PAY-1", "player-1", gold("100.10", 3), gold("0.05", 1),
		sdk.Item{SKU: "skin", Quantity: 1})
	first, err := p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, first.Outcome)
	require.NotEmpty(t, first.Reference)

	again, err := p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, again, "a retry gets the same answer")

	f := readWallet(t, dir)
	require.Equal(t, map[string]map[string]string{"player-1": {"GOLD": "300.35"}}, f.Balances)
	require.Len(t, f.Applied, 1)
	a := f.Applied["fulfil:PAY-1"]
	require.Equal(t, "fulfil", a.Kind)
	require.Equal(t, "player-1", a.Player)
	require.Equal(t, map[string]string{"GOLD": "300.35"}, a.Credits)
	_, err = time.Parse(time.RFC3339, a.At)
	require.NoError(t, err)

	// The raw document has exactly the documented top-level shape.
	var raw map[string]map[string]any
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &raw))
	require.Len(t, raw, 2)
	require.Contains(t, raw, "balances")
	require.Contains(t, raw, "applied")
}

func TestFulfilPaymentAmountWhenNoDigitalItems(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	// No player id: the customer id names the player.
	res, err := p.Fulfil(t.Context(), fulfilReq("k1", "PAY-1", "", sdk.Item{SKU: "skin", Quantity: 2}))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	require.Equal(t, map[string]map[string]string{"77": {"NGN": "1000.5"}}, readWallet(t, dir).Balances)
}

func TestMoneyIsExact(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	for i, amount := range []string{"0.1", "0.2", "123456789012345678.000000000000000001"} {
		res, err := p.Fulfil(t.Context(), fulfilReq(fmt.Sprint("k", i), fmt.Sprint("PAY-", i), "p", gold(amount, 1)))
		require.NoError(t, err)
		require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	}
	require.Equal(t, "123456789012345678.300000000000000001", readWallet(t, dir).Balances["p"]["GOLD"])
}

func TestFulfilRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  sdk.FulfilRequest
	}{
		{"no idempotency key", fulfilReq("", "PAY-1", "p", gold("1", 1))},
		{"no player", func() sdk.FulfilRequest {
			r := fulfilReq("k", "PAY-1", "", gold("1", 1))
			r.Payment.CustomerID = 0
			return r
		}()},
		{"negative credit", fulfilReq("k", "PAY-1", "p", gold("-5", 1))},
		{"nothing to credit", func() sdk.FulfilRequest {
			r := fulfilReq("k", "PAY-1", "p")
			r.Payment.CurrencyCode = ""
			return r
		}()},
	}
	p, dir := newTestWallet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Fulfil(t.Context(), tt.req)
			require.NoError(t, err)
			require.Equal(t, sdk.OutcomeRejected, res.Outcome)
			require.NotEmpty(t, res.Reason)
		})
	}
	require.NoFileExists(t, filepath.Join(dir, fileName), "a rejection writes nothing")
}

func TestReverse(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()

	res, err := p.Reverse(ctx, reverseReq("reverse:PAY-1", "PAY-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRejected, res.Outcome, "nothing was fulfilled yet")

	_, err = p.Fulfil(ctx, fulfilReq("fulfil:PAY-1", "PAY-1", "p1", gold("50", 2)))
	require.NoError(t, err)
	_, err = p.Fulfil(ctx, fulfilReq("fulfil:PAY-2", "PAY-2", "p1", gold("7.5", 1)))
	require.NoError(t, err)

	first, err := p.Reverse(ctx, reverseReq("reverse:PAY-1", "PAY-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, first.Outcome)
	again, err := p.Reverse(ctx, reverseReq("reverse:PAY-1", "PAY-1"))
	require.NoError(t, err)
	require.Equal(t, first, again, "a retried reverse debits once")

	other, err := p.Reverse(ctx, reverseReq("chargeback:PAY-1", "PAY-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRejected, other.Outcome, "a payment is reversed once")

	reused, err := p.Reverse(ctx, reverseReq("fulfil:PAY-2", "PAY-2"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRejected, reused.Outcome, "a fulfil's key cannot reverse")

	f := readWallet(t, dir)
	require.Equal(t, "7.5", f.Balances["p1"]["GOLD"])
	r := f.Applied["reverse:PAY-1"]
	require.Equal(t, "reverse", r.Kind)
	require.Equal(t, "p1", r.Player)
	require.Equal(t, map[string]string{"GOLD": "-100"}, r.Credits)
}

func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()
	req := fulfilReq("fulfil:PAY-1", "PAY-1", "p1", gold("10", 1))
	_, err := p.Fulfil(ctx, req)
	require.NoError(t, err)

	// A new process on the same data directory remembers the key.
	again := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	require.NoError(t, again.Configure(ctx, sdk.ConfigureRequest{Settings: map[string]string{settingDataDir: dir}}))
	_, err = again.Fulfil(ctx, req)
	require.NoError(t, err)
	res, err := again.Reverse(ctx, reverseReq("reverse:PAY-1", "PAY-1"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	require.Equal(t, "0", readWallet(t, dir).Balances["p1"]["GOLD"])
}

func TestFailedSaveCreditsNothing(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()
	path := filepath.Join(dir, fileName)
	// A directory where the file should go makes the rename fail, even as root.
	require.NoError(t, os.Mkdir(path, 0o700))

	req := fulfilReq("fulfil:PAY-1", "PAY-1", "p1", gold("10", 1))
	res, err := p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRetry, res.Outcome)

	require.NoError(t, os.Remove(path))
	_, err = p.Fulfil(ctx, fulfilReq("fulfil:PAY-2", "PAY-2", "p1", gold("1", 1)))
	require.NoError(t, err)
	require.Equal(t, "1", readWallet(t, dir).Balances["p1"]["GOLD"], "the failed credit was undone")

	res, err = p.Fulfil(ctx, req)
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	require.Equal(t, "11", readWallet(t, dir).Balances["p1"]["GOLD"])
}

func TestConfigureRefusesCorruptWallet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, fileName),
		[]byte(`{"balances":{"p":{"GOLD":"lots"}},"applied":{}}`), 0o600))
	p := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	err := p.Configure(t.Context(), sdk.ConfigureRequest{Settings: map[string]string{settingDataDir: dir}})
	require.ErrorIs(t, err, sdk.ErrInvalidSettings)
}

func TestConcurrentFulfils(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			// Every other call repeats key k0: it must credit once.
			key := fmt.Sprint("k", i)
			if i%2 == 0 {
				key = "k0"
			}
			res, err := p.Fulfil(ctx, fulfilReq(key, "PAY-"+key, "p", gold("0.01", 1)))
			if err == nil && res.Outcome != sdk.OutcomeFulfilled {
				err = fmt.Errorf("outcome %s: %s", res.Outcome, res.Reason)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, "0.11", readWallet(t, dir).Balances["p"]["GOLD"])
}

func TestLookupUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		player string
		found  bool
	}{
		{"player-1", true},
		{"a.b_c-D9", true},
		{"x", true},
		{strings.Repeat("a", 65), false},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"has space", false},
		{"../etc", false},
		{"ünïcode", false},
	}
	p := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	for _, tt := range tests {
		t.Run(tt.player, func(t *testing.T) {
			t.Parallel()
			req := sdk.LookupUserRequest{PlayerID: tt.player, ExternalReference: "ext-1",
				Amount: decimal.NewNullDecimal(dec("99.99")), CurrencyCode: "KES"}
			resp, err := p.LookupUser(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, tt.found, resp.Found)
			if !tt.found {
				require.Equal(t, "PLAYER_NOT_FOUND", resp.ErrorCode)
				return
			}
			require.Equal(t, tt.player, resp.UserID)
			require.Equal(t, "ext-1", resp.ExternalReference)
			require.Equal(t, "KES", resp.CurrencyCode)
			require.True(t, resp.Amount.Decimal.Equal(dec("99.99")))
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	p := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	d, err := p.Describe(t.Context())
	require.NoError(t, err)
	require.Equal(t, sdk.Description{
		Name: "wallet", Version: "1.0.0", ProtocolVersion: 1,
		Capabilities: []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil, sdk.CapabilityReverse},
	}, d)
}

// TestTwoProcessesShareADataDirectory: two wallets on one directory (as two
// partnerhub nodes sharing PARTNERHUB_DATA_DIR run them) lose no credit and
// double none. Each has its own open lock file, so flock excludes them from
// each other just as it excludes two processes.
func TestTwoProcessesShareADataDirectory(t *testing.T) {
	t.Parallel()
	a, dir := newTestWallet(t)
	b := sdk.TestClient(t, newWallet(slog.New(slog.NewTextHandler(t.Output(), nil))))
	require.NoError(t, b.Configure(t.Context(), sdk.ConfigureRequest{Settings: map[string]string{settingDataDir: dir}}))
	ctx := t.Context()

	const payments = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*payments)
	for i := range payments {
		key := fmt.Sprint("fulfil:PAY-", i)
		req := fulfilReq(key, fmt.Sprint("PAY-", i), "p", gold("1", 1))
		// Every payment is fulfilled twice on each wallet: one credit each.
		for _, p := range []sdk.Plugin{a, b, a, b} {
			wg.Go(func() {
				res, err := p.Fulfil(ctx, req)
				if err == nil && res.Outcome != sdk.OutcomeFulfilled {
					err = fmt.Errorf("outcome %s: %s", res.Outcome, res.Reason)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f := readWallet(t, dir)
	require.Len(t, f.Applied, payments)
	require.Equal(t, fmt.Sprint(payments), f.Balances["p"]["GOLD"])

	// A reverse on one sees the other's fulfil.
	res, err := b.Reverse(ctx, reverseReq("reverse:PAY-0", "PAY-0"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	res, err = a.Reverse(ctx, reverseReq("reverse:PAY-0b", "PAY-0"))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeRejected, res.Outcome, "already reversed by the other")
}

// TestNoticesAFileChangedBehindItsBack: the wallet keeps its state in
// memory between changes, but re-reads wallet.json when it changed on disk,
// even by a writer that does not keep the generation in wallet.lock.
func TestNoticesAFileChangedBehindItsBack(t *testing.T) {
	t.Parallel()
	p, dir := newTestWallet(t)
	ctx := t.Context()
	_, err := p.Fulfil(ctx, fulfilReq("fulfil:PAY-1", "PAY-1", "p1", gold("10", 1)))
	require.NoError(t, err)

	// Someone else credits PAY-2 by rewriting the file.
	f := readWallet(t, dir)
	f.Balances["p1"]["GOLD"] = "17"
	f.Applied["fulfil:PAY-2"] = appliedFile{Kind: kindFulfil, Player: "p1", Credits: map[string]string{"GOLD": "7"},
		At: time.Now().UTC().Format(time.RFC3339Nano), Payment: "PAY-2"}
	data, err := json.Marshal(f)
	require.NoError(t, err)
	tmp := filepath.Join(dir, "by-hand")
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, fileName)))

	res, err := p.Fulfil(ctx, fulfilReq("fulfil:PAY-2", "PAY-2", "p1", gold("5", 1)))
	require.NoError(t, err)
	require.Equal(t, sdk.OutcomeFulfilled, res.Outcome)
	require.Equal(t, "17", readWallet(t, dir).Balances["p1"]["GOLD"], "PAY-2 was credited once, by the other writer")

	_, err = p.Fulfil(ctx, fulfilReq("fulfil:PAY-3", "PAY-3", "p1", gold("1", 1)))
	require.NoError(t, err)
	f = readWallet(t, dir)
	require.Equal(t, "18", f.Balances["p1"]["GOLD"])
	require.Equal(t, "7", f.Applied["fulfil:PAY-2"].Credits["GOLD"], "the other writer's record was kept")
	require.Len(t, f.Applied, 3)
}
