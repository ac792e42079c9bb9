package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// settingDataDir names the directory holding wallet.json; default: the
// process working directory, which the host gives each tenant/environment.
const settingDataDir = "data_dir"

// playerSyntax is what LookupUser accepts as a player id.
var playerSyntax = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// wallet implements sdk.Plugin. Changes are committed in batches, one at a
// time (commit.go), each written to disk before its answers are given; a
// file lock (wallet.lock) serialises the batches of processes sharing the
// directory, and wallet.json is re-read under it only when another process
// changed it since (stamp).
type wallet struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex // held by the batch being committed, and by Configure
	path  string     // wallet.json; empty until opened
	lock  *os.File   // wallet.lock beside it, flocked around every batch
	state *state
	seen  stamp // of the wallet.json state was read from or saved as

	qmu   sync.Mutex // guards queue
	queue []pending  // changes waiting for the next batch
}

var _ sdk.Plugin = (*wallet)(nil)

func newWallet(log *slog.Logger) *wallet {
	return &wallet{log: log, now: time.Now}
}

func (w *wallet) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:            "wallet",
		Version:         "1.0.0",
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities:    []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil, sdk.CapabilityReverse},
	}, nil
}

func (w *wallet) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	for k := range req.Settings {
		if k != settingDataDir {
			w.log.Warn("ignoring unknown setting", "setting", k)
		}
	}
	dir := req.Settings[settingDataDir]
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("wallet: working directory: %w", err)
		}
		dir = wd
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("wallet: %s: %w", settingDataDir, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.openLocked(filepath.Join(dir, fileName))
}

// openLocked loads path as the wallet. Caller holds w.mu.
func (w *wallet) openLocked(path string) error {
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(path), lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("wallet: lock file: %w", err)
	}
	s, err := load(path)
	if err != nil {
		_ = lock.Close()
		return err
	}
	if w.lock != nil {
		_ = w.lock.Close()
	}
	w.path, w.lock, w.state, w.seen = path, lock, s, stamp{}
	w.log.Info("wallet opened", "path", path, "players", len(s.balances), "applied", len(s.applied))
	return nil
}

// ensureOpenLocked opens the default wallet when Configure was never called.
func (w *wallet) ensureOpenLocked() error {
	if w.state != nil {
		return nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("wallet: working directory: %w", err)
	}
	return w.openLocked(filepath.Join(wd, fileName))
}

// beginLocked starts a batch: it takes the file lock and, when another
// process on the same data directory (two partnerhub nodes sharing it)
// changed wallet.json since this one last read or wrote it, re-reads it.
// Caller holds w.mu and calls the returned release when the batch is saved
// or abandoned.
func (w *wallet) beginLocked() (release func(), err error) {
	if err := w.ensureOpenLocked(); err != nil {
		return nil, err
	}
	unlock, err := lockFile(w.lock)
	if err != nil {
		return nil, fmt.Errorf("wallet: lock: %w", err)
	}
	gen, err := w.generation()
	if err != nil {
		unlock()
		return nil, err
	}
	now, err := w.stampOf(gen)
	if err != nil {
		unlock()
		return nil, err
	}
	if !now.same(w.seen) {
		s, err := load(w.path)
		if err != nil {
			unlock()
			return nil, err
		}
		w.state, w.seen = s, now
	}
	return unlock, nil
}

func (w *wallet) LookupUser(_ context.Context, req sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	if !playerSyntax.MatchString(req.PlayerID) {
		return sdk.LookupUserResponse{
			Found:        false,
			ErrorCode:    "PLAYER_NOT_FOUND",
			ErrorMessage: "unknown player",
		}, nil
	}
	return sdk.LookupUserResponse{
		Found:             true,
		UserID:            req.PlayerID,
		ExternalReference: req.ExternalReference,
		Amount:            req.Amount,
		CurrencyCode:      req.CurrencyCode,
	}, nil
}

func (w *wallet) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	if req.IdempotencyKey == "" {
		return sdk.Rejected("missing idempotency key"), nil
	}
	player := req.PlayerID
	if player == "" && req.Payment.CustomerID != 0 {
		player = strconv.FormatInt(req.Payment.CustomerID, 10)
	}
	if player == "" {
		return sdk.Rejected("no player id and no customer id"), nil
	}
	credits, reason := creditsFor(req.Payment, req.Items)
	if reason != "" {
		return sdk.Rejected(reason), nil
	}

	return w.do(func(s *state, now time.Time) (sdk.Result, string, *applied) {
		ref := reference(kindFulfil, req.IdempotencyKey)
		if prev, ok := s.applied[req.IdempotencyKey]; ok {
			if prev.kind != kindFulfil {
				return sdk.Rejected("idempotency key already used by a " + prev.kind), "", nil
			}
			return sdk.Fulfilled(ref), "", nil // a retry: already credited
		}
		// With ctx, the line carries the host's trace (sdk.NewLogger).
		w.log.InfoContext(ctx, "fulfilled", "key", req.IdempotencyKey, "player", player, "credits", formatAmounts(credits))
		return sdk.Fulfilled(ref), req.IdempotencyKey,
			&applied{kind: kindFulfil, player: player, credits: credits, at: now, payment: req.Payment.Reference}
	}), nil
}

func (w *wallet) Reverse(ctx context.Context, req sdk.ReverseRequest) (sdk.Result, error) {
	if req.IdempotencyKey == "" {
		return sdk.Rejected("missing idempotency key"), nil
	}
	return w.do(func(s *state, now time.Time) (sdk.Result, string, *applied) {
		ref := reference(kindReverse, req.IdempotencyKey)
		if prev, ok := s.applied[req.IdempotencyKey]; ok {
			if prev.kind != kindReverse {
				return sdk.Rejected("idempotency key already used by a " + prev.kind), "", nil
			}
			return sdk.Fulfilled(ref), "", nil // a retry: already debited
		}
		if req.Payment.Reference == "" {
			return sdk.Rejected("nothing to reverse: no payment reference"), "", nil
		}
		fulfil, reversed := s.find(req.Payment.Reference)
		switch {
		case fulfil == nil:
			return sdk.Rejected("nothing to reverse: payment " + req.Payment.Reference + " was not fulfilled"), "", nil
		case reversed:
			return sdk.Rejected("nothing to reverse: payment " + req.Payment.Reference + " was already reversed"), "", nil
		}
		if req.PlayerID != "" && req.PlayerID != fulfil.player {
			// The fulfil's record is what was actually credited; trust it.
			w.log.WarnContext(ctx, "reverse names another player than the fulfil", "key", req.IdempotencyKey,
				"request_player", req.PlayerID, "fulfilled_player", fulfil.player)
		}
		debits := make(map[string]decimal.Decimal, len(fulfil.credits))
		for code, d := range fulfil.credits {
			debits[code] = d.Neg()
		}
		w.log.InfoContext(ctx, "reversed", "key", req.IdempotencyKey, "reason", string(req.Reason), "player", fulfil.player,
			"credits", formatAmounts(debits))
		return sdk.Fulfilled(ref), req.IdempotencyKey,
			&applied{kind: kindReverse, player: fulfil.player, credits: debits, at: now, payment: req.Payment.Reference}
	}), nil
}

// find returns the fulfil of payment, and whether it was reversed.
func (s *state) find(payment string) (fulfil *applied, reversed bool) {
	for _, a := range s.applied {
		if a.payment != payment {
			continue
		}
		switch a.kind {
		case kindFulfil:
			f := a
			fulfil = &f
		case kindReverse:
			reversed = true
		}
	}
	return fulfil, reversed
}

// creditsFor is what a fulfil credits: each item's digital currency (times
// its quantity), or, when no item carries any, the payment itself. A
// non-empty reason rejects the fulfil.
func creditsFor(p sdk.Payment, items []sdk.Item) (map[string]decimal.Decimal, string) {
	credits := map[string]decimal.Decimal{}
	for _, it := range items {
		if it.DigitalCurrencyCode == "" || !it.DigitalAmount.Valid {
			continue
		}
		amount := it.DigitalAmount.Decimal
		if it.Quantity > 1 {
			amount = amount.Mul(decimal.NewFromInt(it.Quantity))
		}
		credits[it.DigitalCurrencyCode] = credits[it.DigitalCurrencyCode].Add(amount)
	}
	if len(credits) == 0 {
		if p.CurrencyCode == "" {
			return nil, "nothing to credit: no digital currency and no payment currency"
		}
		credits[p.CurrencyCode] = p.Amount
	}
	codes := make([]string, 0, len(credits))
	for code := range credits {
		codes = append(codes, code)
	}
	sort.Strings(codes) // a stable reason when several are negative
	for _, code := range codes {
		if credits[code].IsNegative() {
			return nil, "negative amount of " + code
		}
	}
	return credits, ""
}

// reference is the wallet's reference for an operation: derived from the
// idempotency key, so a retry gets the same one without storing it.
func reference(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	return "wallet-" + hex.EncodeToString(sum[:8])
}
