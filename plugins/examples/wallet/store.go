package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	// order lists applied keys as written; encoded holds each one's JSON
	// member ("key":{...}), encoded once: an entry never changes, so saving
	// copies bytes instead of encoding thousands of entries every time.
	order   []string
	encoded map[string][]byte
}

type applied struct {
	kind    string
	player  string
	credits map[string]decimal.Decimal
	at      time.Time
	payment string
}

func newState() *state {
	return &state{balances: map[string]map[string]decimal.Decimal{}, applied: map[string]applied{}, encoded: map[string][]byte{}}
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
		s.order = append(s.order, key)
	}
	// JSON objects have no order: keep the file's entries in time order.
	slices.SortFunc(s.order, func(a, b string) int {
		return cmp.Or(s.applied[a].at.Compare(s.applied[b].at), strings.Compare(a, b))
	})
	for _, key := range s.order {
		raw, err := encodeApplied(key, s.applied[key])
		if err != nil {
			return nil, err
		}
		s.encoded[key] = raw
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

// encodeApplied is a's member of the "applied" object: "key":{...}.
func encodeApplied(key string, a applied) ([]byte, error) {
	k, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("wallet: encode key: %w", err)
	}
	v, err := json.Marshal(appliedFile{
		Kind:    a.kind,
		Player:  a.player,
		Credits: formatAmounts(a.credits),
		At:      a.at.UTC().Format(time.RFC3339Nano),
		Payment: a.payment,
	})
	if err != nil {
		return nil, fmt.Errorf("wallet: encode %q: %w", key, err)
	}
	return slices.Concat(k, []byte(":"), v), nil
}

// encode is wallet.json's content: the balances, encoded afresh, and the
// applied entries' stored encodings.
func (s *state) encode() ([]byte, error) {
	balances := make(map[string]map[string]string, len(s.balances))
	for player, m := range s.balances {
		balances[player] = formatAmounts(m)
	}
	b, err := json.Marshal(balances)
	if err != nil {
		return nil, fmt.Errorf("wallet: encode balances: %w", err)
	}
	size := len(b) + 32
	for _, key := range s.order {
		size += len(s.encoded[key]) + 2
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString(`{"balances":`)
	buf.Write(b)
	buf.WriteString(`,"applied":{`)
	for i, key := range s.order {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(s.encoded[key])
	}
	buf.WriteString("}}\n")
	return buf.Bytes(), nil
}

// apply records a under key and adds its credits to the player's balances.
// It returns a function that undoes exactly that, for when saving fails;
// undos run in reverse order of their applies.
func (s *state) apply(key string, a applied) (undo func(), err error) {
	raw, err := encodeApplied(key, a)
	if err != nil {
		return nil, err
	}
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
	s.encoded[key] = raw
	s.order = append(s.order, key)
	return func() {
		delete(s.applied, key)
		delete(s.encoded, key)
		s.order = s.order[:len(s.order)-1]
		if had {
			s.balances[a.player] = before
		} else {
			delete(s.balances, a.player)
		}
	}, nil
}

// save writes the wallet atomically: a crash leaves either the old file or
// the new one, never half of one.
func (s *state) save(path string) error {
	data, err := s.encode()
	if err != nil {
		return err
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
