package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/shopspring/decimal"
)

// fileName is the wallet file inside the data directory.
const fileName = "wallet.json"

// Kinds of applied operations.
const (
	kindFulfil  = "fulfil"
	kindReverse = "reverse"
)

// errCorrupt means wallet.json exists but cannot be trusted.
var errCorrupt = errors.New("wallet: corrupt wallet file")

// walletFile is wallet.json exactly as stored. Amounts are decimal strings
// so that the format never depends on a JSON library's number handling.
type walletFile struct {
	// Balances: player -> currency code -> amount.
	Balances map[string]map[string]string `json:"balances"`
	// Applied: idempotency key -> what was done under it.
	Applied map[string]appliedFile `json:"applied"`
}

type appliedFile struct {
	Kind   string `json:"kind"`
	Player string `json:"player"`
	// Credits: currency code -> amount credited; negative for a reverse.
	Credits map[string]string `json:"credits"`
	At      string            `json:"at"`
	// Payment is the Pay1st payment reference: how a reverse finds the
	// fulfil it takes back. Additive to the documented format.
	Payment string `json:"payment,omitempty"`
}

// state is the wallet in memory, with exact amounts.
type state struct {
	balances map[string]map[string]decimal.Decimal
	applied  map[string]applied
}

type applied struct {
	kind    string
	player  string
	credits map[string]decimal.Decimal
	at      time.Time
	payment string
}

func newState() *state {
	return &state{balances: map[string]map[string]decimal.Decimal{}, applied: map[string]applied{}}
}

// load reads path; a missing file is an empty wallet.
func load(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: read %s: %w", path, err)
	}
	var f walletFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errCorrupt, path, err)
	}
	s := newState()
	for player, codes := range f.Balances {
		m, err := parseAmounts(codes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: balance of %q: %w", errCorrupt, path, player, err)
		}
		s.balances[player] = m
	}
	for key, a := range f.Applied {
		credits, err := parseAmounts(a.Credits)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: applied %q: %w", errCorrupt, path, key, err)
		}
		at, err := time.Parse(time.RFC3339, a.At)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: applied %q: %w", errCorrupt, path, key, err)
		}
		s.applied[key] = applied{kind: a.Kind, player: a.Player, credits: credits, at: at, payment: a.Payment}
	}
	return s, nil
}

func parseAmounts(in map[string]string) (map[string]decimal.Decimal, error) {
	out := make(map[string]decimal.Decimal, len(in))
	for code, s := range in {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", code, s, err)
		}
		out[code] = d
	}
	return out, nil
}

func formatAmounts(in map[string]decimal.Decimal) map[string]string {
	out := make(map[string]string, len(in))
	for code, d := range in {
		out[code] = d.String()
	}
	return out
}

func (s *state) file() walletFile {
	f := walletFile{
		Balances: make(map[string]map[string]string, len(s.balances)),
		Applied:  make(map[string]appliedFile, len(s.applied)),
	}
	for player, m := range s.balances {
		f.Balances[player] = formatAmounts(m)
	}
	for key, a := range s.applied {
		f.Applied[key] = appliedFile{
			Kind:    a.kind,
			Player:  a.player,
			Credits: formatAmounts(a.credits),
			At:      a.at.UTC().Format(time.RFC3339Nano),
			Payment: a.payment,
		}
	}
	return f
}

// apply records a under key and adds its credits to the player's balances.
// It returns a function that undoes exactly that, for when saving fails.
func (s *state) apply(key string, a applied) (undo func()) {
	before, had := s.balances[a.player]
	after := maps.Clone(before)
	if after == nil {
		after = map[string]decimal.Decimal{}
	}
	for code, d := range a.credits {
		after[code] = after[code].Add(d)
	}
	s.balances[a.player] = after
	s.applied[key] = a
	return func() {
		delete(s.applied, key)
		if had {
			s.balances[a.player] = before
		} else {
			delete(s.balances, a.player)
		}
	}
}

// save writes the wallet atomically: a crash leaves either the old file or
// the new one, never half of one.
func (s *state) save(path string) error {
	data, err := json.MarshalIndent(s.file(), "", "  ")
	if err != nil {
		return fmt.Errorf("wallet: encode: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+fileName+".*")
	if err != nil {
		return fmt.Errorf("wallet: save: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("wallet: save: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("wallet: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("wallet: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("wallet: save: %w", err)
	}
	// The rename is durable only once the directory is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wallet: save: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wallet: save: sync dir: %w", err)
	}
	return nil
}
