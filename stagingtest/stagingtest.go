// Package stagingtest runs staging test transactions: a simulated purchase
// of one bundle for one player through partnerhub's whole path — an order
// at partnerhub's in-process Pay1st simulator, the simulator's signed
// webhook, the fulfil job, the tenant's plugin, the fulfilment report back
// to the simulator — answered step by step. Success marks the onboarding
// step "staging_test" done. The API handler only calls Run and Get; the
// orchestration is here, over the tenant and payment services.
package stagingtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Step names, in the order they run.
const (
	StepCredentials = "credentials" // the staging Pay1st credentials are set
	StepSimulator   = "simulator"   // the simulator knows the tenant by them
	StepOrder       = "order"       // create-order at the simulator gateway
	StepPayment     = "payment"     // the simulator paid: signed PENDING, SUCCESSFUL sent
	StepWebhook     = "webhook"     // partnerhub recorded the payment SUCCESSFUL
	StepFulfilment  = "fulfilment"  // the plugin credited the player
	StepReport      = "report"      // the simulator accepted the fulfilment report
)

// Step results.
const (
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultPending = "pending"
)

// Transaction statuses.
const (
	// StatusRunning: a request is working on it now.
	StatusRunning = "running"
	// StatusSucceeded: every step ok.
	StatusSucceeded = "succeeded"
	// StatusFailed: a step failed; its detail says why.
	StatusFailed = "failed"
	// StatusPending: the wait ended before the last step; the same request
	// again resumes it.
	StatusPending = "pending"
)

// ChecklistStep is the onboarding step a success marks done.
const ChecklistStep = "staging_test"

// Defaults and bounds.
const (
	// DefaultWait is how long Run waits for the purchase to go through.
	DefaultWait = 30 * time.Second
	// pollEvery is how often Run looks at the payment, fulfilment and
	// report while it waits.
	pollEvery = 100 * time.Millisecond
	// leaseMargin: a run is taken as abandoned (its process died) this long
	// after its wait should have ended.
	leaseMargin = 30 * time.Second
)

var (
	partnerReferenceRE = regexp.MustCompile(payment.PartnerReferencePattern)
	countryRE          = regexp.MustCompile(`^[A-Z]{2}$`)
	skuRE              = regexp.MustCompile(tenant.SKUPattern)
)

// Step is one step's outcome.
type Step struct {
	Name   string    `json:"name"`
	Result string    `json:"result"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// Request asks for a test transaction. Exactly one of SKU and BundleID.
type Request struct {
	// PartnerReference identifies the test transaction and its order; a
	// repeat with the same one answers (or resumes) the same transaction.
	// Generated when empty.
	PartnerReference string
	SKU              string
	BundleID         int64
	PlayerID         int64 // the customerId the plugin credits
	// CountryCode to buy in; the bundle's first priced country when empty.
	CountryCode string
}

// Transaction is a test transaction and its steps so far.
type Transaction struct {
	ID               int64
	TenantID         int64
	PartnerReference string
	SKU              string
	PlayerID         int64
	CountryCode      string
	Status           string
	Reference        string // Pay1st's (the simulator's) payment reference, once created
	Steps            []Step
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Config is what a Service needs.
type Config struct {
	Pool     *pgxpool.Pool
	Tenants  *tenant.Service
	Payments *payment.Service
	// Simulator is the process's in-process simulator, reached by the
	// payment service through the simulator gateway; without it every run
	// fails at its simulator step.
	Simulator *sim.Simulator
	// Wait bounds how long Run waits for the purchase; DefaultWait when 0.
	Wait   time.Duration
	Logger *slog.Logger
}

// Service runs and reads test transactions.
type Service struct {
	cfg   Config
	store store
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

// ErrStagingOnly refuses a test transaction in production: it would create
// orders and credit players there.
var ErrStagingOnly = errors.New("stagingtest: test transactions run in staging only")

// checkEnv: test transactions run in staging only; production is refused,
// any other name is not found.
func checkEnv(env string) error {
	switch env {
	case tenant.Staging:
		return nil
	case tenant.Production:
		return ErrStagingOnly
	default:
		return tenant.ErrNotFound
	}
}

func (r *Request) validate() error {
	bad := func(field, problem string) error { return &tenant.FieldError{Field: field, Problem: problem} }
	switch {
	case r.PartnerReference != "" && !partnerReferenceRE.MatchString(r.PartnerReference):
		return bad("partnerReference", "must be 1 to 128 of A-Z a-z 0-9 . _ ~ : -")
	case (r.SKU == "") == (r.BundleID == 0):
		return bad("sku", "give exactly one of sku and bundleId")
	case r.SKU != "" && !skuRE.MatchString(r.SKU):
		return bad("sku", "is not a SKU")
	case r.BundleID < 0:
		return bad("bundleId", "must be positive")
	case r.PlayerID <= 0:
		return bad("playerId", "must be a positive integer (Pay1st's customerId)")
	case r.CountryCode != "" && !countryRE.MatchString(r.CountryCode):
		return bad("countryCode", "must be an ISO 3166-1 alpha-2 code in capitals")
	}
	if r.PartnerReference == "" {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		r.PartnerReference = "test-" + hex.EncodeToString(b)
	}
	return nil
}

// hash identifies the request's meaning once its bundle is resolved.
func (r Request) hash() []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "v1\x00%s\x00%d\x00%s\x00%s", r.SKU, r.PlayerID, r.CountryCode, r.PartnerReference))
	return h[:]
}
