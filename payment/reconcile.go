package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Reconciliation asks Pay1st about payments partnerhub may have missed news
// of, and feeds each answer to the same state machine as a webhook
// (IngestEventsTx), recorded in the deliveries log as kind KindReconcile so
// a payment's timeline shows where a status came from. The jobs package
// makes the calls; this file decides what to ask about and records what
// was learnt.

// Subjects of reconciliation.
const (
	// SubjectPayment: a payment stuck in a status that may still move.
	SubjectPayment = "payment"
	// SubjectOrder: an order created at Pay1st that no payment event
	// followed (no payments row).
	SubjectOrder = "order"
)

// ErrReconcileMismatch says Pay1st answered a query about another partner
// or payment: the answer is not used.
var ErrReconcileMismatch = errors.New("payment: reconciliation answer does not match")

// Reconciliation bounds.
const (
	// maxReconcileBackoff caps the wait between two queries of one
	// reference: after the first, each waits twice as long as the last.
	maxReconcileBackoff = 24 * time.Hour
	// maxReconcileError bounds a kept error (the column's limit).
	maxReconcileError = 1024
)

// Settled reports whether a payment's status can no longer change in a way
// reconciliation must chase: paid (its fulfilment is queued) or reversed.
// Failed statuses are not settled: a customer may still pay on the same
// payment, and a lost SUCCESSFUL is the costliest webhook to lose; they
// are chased for a shorter horizon (failedReconcileHorizon).
func Settled(s pay1st.Status) bool {
	p := PhaseOf(s)
	return p == PhasePaid || p == PhaseReversed
}

// ReconcileParams bound one reconciliation run.
type ReconcileParams struct {
	Now time.Time
	// After: a payment partnerhub heard nothing new of for this long, or an
	// order created this long ago with no payment event, is asked about.
	// It is also the first wait before asking again (then doubling).
	After time.Duration
	// GiveUpAfter: past this age (since the last news, or the order's
	// creation) reconciliation stops asking and says so.
	GiveUpAfter time.Duration
	// Limit is the most references claimed by one run.
	Limit int
	// Askable says what Pay1st can be asked about now: references of other
	// tenant environments or gateways are not claimed, so they take no
	// place in the batch and are never given up on.
	Askable Askable
}

// Askable lists what reconciliation can ask Pay1st about.
type Askable struct {
	// Envs: the tenant environments whose Gateway credentials are set.
	Envs []tenant.EnvRef
	// Gateways: the environments and gateways (pay1st.GatewayPay1st,
	// pay1st.GatewaySimulator) this process has a client for.
	Gateways []GatewayRef
}

// GatewayRef names a Pay1st gateway of an environment.
type GatewayRef struct {
	Env     string
	Gateway string
}

// failedReconcileHorizon: a payment in the failed phase (FAILED,
// ABANDONED, CANCELLED) is asked about only this long after its last news,
// then dropped quietly. The customer may still pay on it, but most failed
// tries stay failed, and a Shop-only tenant (no orders) has many.
const failedReconcileHorizon = 24 * time.Hour

func (p ReconcileParams) failedHorizon() time.Duration {
	return min(failedReconcileHorizon, p.GiveUpAfter)
}

func (p ReconcileParams) validate() error {
	if p.Now.IsZero() || p.After <= 0 || p.GiveUpAfter <= p.After || p.Limit < 1 {
		return fmt.Errorf("payment: reconcile: need now, after > 0, give-up > after and limit ≥ 1 (got %s, %s, %d)",
			p.After, p.GiveUpAfter, p.Limit)
	}
	return nil
}

// ReconcileItem is one reference a run claimed: ask Pay1st about it, then
// call ReconcileAnswer or ReconcileFailed.
type ReconcileItem struct {
	TenantID    int64
	PartnerCode string
	Env         string
	Reference   string
	Subject     string // SubjectPayment or SubjectOrder
	// Gateway is the Pay1st to ask (pay1st.GatewayPay1st or
	// pay1st.GatewaySimulator): the order's, pay1st when there is none.
	Gateway string
	// Status and StatusUpdatedAt are the payment's now; empty for an order.
	Status          string
	StatusUpdatedAt time.Time
	// Checks counts the queries of this reference, this one included.
	Checks int
}

// ClaimReconcile picks up to Limit references to ask Pay1st about — stuck
// payments and orders no webhook followed, in one batch: never asked
// first, then by due time, taking turns between tenants — and claims
// them: each is not picked again, by this run or a concurrent one, before
// its next check time (After, doubling per check, at most a day). Only
// p.Askable references are picked. Tenants that are not active are left
// alone, as their webhooks are.
func (s *Service) ClaimReconcile(ctx context.Context, p ReconcileParams) ([]ReconcileItem, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return s.store.claimReconcile(ctx, s.pool, p)
}

// Reconciled is what one answer did.
type Reconciled struct {
	// Ingested is false when the answer was the payment's current status
	// and updatedDate: nothing new, nothing recorded.
	Ingested bool
	Result   Ingested
}

// ReconcileAnswer feeds Pay1st's answer about it to the payment state
// machine, exactly as a webhook carrying it would be (so a lost SUCCESSFUL
// still queues its fulfilment, once), recorded as a delivery of kind
// KindReconcile. An answer that is the payment's current state records
// nothing. The check is dropped once the payment is settled.
func (s *Service) ReconcileAnswer(ctx context.Context, env tenant.Env, it ReconcileItem, ev pay1st.PaymentEvent) (Reconciled, error) {
	switch {
	case ev.Reference != it.Reference,
		ev.PartnerCode != "" && ev.PartnerCode != env.PartnerCode,
		ev.PartnerID != 0 && ev.PartnerID != env.PartnerID,
		env.TenantID != it.TenantID || env.Name != it.Env:
		err := fmt.Errorf("%w: Pay1st answered about %s of partner %q (%d)", ErrReconcileMismatch, ev.Reference, ev.PartnerCode, ev.PartnerID)
		return Reconciled{}, errors.Join(err, s.ReconcileFailed(ctx, it, err.Error()))
	}
	ev.UpdatedDate = ev.UpdatedDate.Truncate(Precision)
	if it.Subject == SubjectPayment && string(ev.Status) == it.Status && ev.UpdatedDate.Equal(it.StatusUpdatedAt.Truncate(Precision)) {
		return Reconciled{}, s.store.noteReconcile(ctx, s.pool, it, SubjectPayment, string(ev.Status), "")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return Reconciled{}, fmt.Errorf("encode reconciled event: %w", err)
	}
	d := Delivery{
		SessionID: newReconcileSession(), PartnerCode: env.PartnerCode, Env: env.Name, Kind: KindReconcile,
		RemoteAddr: "", Headers: map[string]string{}, Body: body,
		Reason: fmt.Sprintf("reconciliation: Pay1st (%s) answered %s to query %d", it.Gateway, ev.Status, it.Checks),
	}
	var out Reconciled
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		res, err := s.IngestEventTx(ctx, tx, env, d, ev)
		if err != nil {
			return err
		}
		out = Reconciled{Ingested: true, Result: res}
		if Settled(pay1st.Status(res.Status)) {
			return s.store.dropReconcile(ctx, tx, it)
		}
		// The answer made the order a payment, if it was not one yet.
		return s.store.noteReconcile(ctx, tx, it, SubjectPayment, string(ev.Status), "")
	})
	if err != nil {
		return Reconciled{}, fmt.Errorf("reconcile %s: %w", it.Reference, err)
	}
	return out, nil
}

// ReconcileFailed keeps why asking Pay1st about it failed; the reference
// is asked again at its next check time.
func (s *Service) ReconcileFailed(ctx context.Context, it ReconcileItem, reason string) error {
	return s.store.noteReconcile(ctx, s.pool, it, it.Subject, "", clipReason(reason))
}

// GaveUp is a reference reconciliation stopped asking about.
type GaveUp struct {
	TenantID    int64
	PartnerCode string
	Env         string
	Reference   string
	Subject     string
	Status      string // the payment's, "" for an order
	Checks      int
	LastError   string
}

// GiveUpReconcile stops asking about references reconciliation asked about
// before and that are now older than GiveUpAfter without settling: the
// check is deleted and, for a payment, a delivery of kind KindReconcile
// (verdict rejected) says so in its timeline. Each is returned once, for
// the caller to log; news (a webhook) makes the payment a candidate again.
// It also drops, quietly, the checks of payments settled meanwhile (by a
// webhook) and of failed-phase payments past their horizon.
func (s *Service) GiveUpReconcile(ctx context.Context, p ReconcileParams) ([]GaveUp, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var out []GaveUp
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.store.dropSettledReconcile(ctx, tx); err != nil {
			return err
		}
		if err := s.store.dropFailedReconcile(ctx, tx, p.Now.Add(-p.failedHorizon())); err != nil {
			return err
		}
		var err error
		if out, err = s.store.giveUpReconcile(ctx, tx, p); err != nil {
			return err
		}
		for _, g := range out {
			if g.Subject != SubjectPayment {
				continue
			}
			d := Delivery{
				SessionID: newReconcileSession(), TenantID: g.TenantID, PartnerCode: g.PartnerCode, Env: g.Env,
				Kind: KindReconcile, Headers: map[string]string{}, Verdict: VerdictRejected, Reference: g.Reference,
				Reason: fmt.Sprintf("reconciliation gave up: still %s after %d queries and %s without news", g.Status, g.Checks, p.GiveUpAfter),
			}
			if _, err := s.store.insertDelivery(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// ReconcileCheck is the reconciliation state of one reference.
type ReconcileCheck struct {
	Subject       string
	Gateway       string
	Checks        int
	LastCheckedAt time.Time
	NextCheckAt   time.Time
	LastStatus    string
	LastError     string
}

// ReconcileCheckOf returns the reconciliation state of a reference;
// ErrNotFound when reconciliation never asked about it, dropped it or
// gave up on it.
func (s *Service) ReconcileCheckOf(ctx context.Context, tenantID int64, env, reference string) (ReconcileCheck, error) {
	return s.store.reconcileCheck(ctx, s.pool, tenantID, env, reference)
}

func newReconcileSession() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "reconcile-" + hex.EncodeToString(b)
}

func clipReason(s string) string {
	if len(s) <= maxReconcileError {
		return s
	}
	// char_length counts characters: cutting bytes keeps within it.
	return strings.ToValidUTF8(s[:maxReconcileError-8], "") + "…"
}
