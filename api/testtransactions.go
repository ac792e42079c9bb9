package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestTransactionHandler serves staging test transactions: a simulated
// purchase through the whole path, run by package stagingtest.
type TestTransactionHandler struct {
	tenants *tenant.Service
	tests   *stagingtest.Service // nil: this process runs no simulator (503)
	logger  *slog.Logger
}

// TestTransactionPath names a tenant environment's test transactions.
type TestTransactionPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"staging. production is refused (422): test transactions run in staging only; any other name is not found."`
}

func (p TestTransactionPath) base() string {
	return "/v1/tenants/" + url.PathEscape(p.PartnerCode) + "/environments/" + url.PathEscape(p.Env) + "/test-transactions"
}

// TestTransactionBody asks for a test transaction.
type TestTransactionBody struct {
	PartnerReference string `json:"partnerReference,omitempty" pattern:"^[A-Za-z0-9._~:-]{1,128}$" example:"test-2026-03-17-1" doc:"Identifies the test transaction and its order (an order of staging on the simulator gateway). The same request with it again answers the same transaction, resuming it if it was still pending; another request with it is 409. Generated when absent (then a repeat is a new transaction)."`
	SKU              string `json:"sku,omitempty" pattern:"^[A-Za-z0-9._-]{1,64}$" example:"gold-100" doc:"The bundle to buy, by SKU in the staging catalog. Give sku or bundleId."`
	BundleID         int64  `json:"bundleId,omitempty" minimum:"1" example:"12" doc:"The bundle to buy, by id in the staging catalog. Give sku or bundleId."`
	PlayerID         int64  `json:"playerId" minimum:"1" example:"1001" doc:"The player (Pay1st's customerId) the plugin credits."`
	CountryCode      string `json:"countryCode,omitempty" pattern:"^[A-Z]{2}$" example:"NG" doc:"Country to buy in; the bundle's first priced country when absent."`
}

// TestTransactionStep is one step of a test transaction.
type TestTransactionStep struct {
	Name   string    `json:"name" enum:"credentials,simulator,order,payment,webhook,fulfilment,report" doc:"credentials: staging's Pay1st credentials are set. simulator: the simulator knows the tenant by them. order: create-order at the simulator gateway. payment: the simulator paid and sent signed events. webhook: partnerhub verified and recorded the payment SUCCESSFUL. fulfilment: the plugin credited the player. report: the simulator accepted the fulfilment report."`
	Result string    `json:"result" enum:"ok,failed,pending" doc:"pending: not done when the wait ended."`
	Detail string    `json:"detail" example:"the plugin credited player 1001 (its reference \"wallet-17\")" doc:"What happened, in words."`
	At     time.Time `json:"at" doc:"When the step ended (or the wait did)."`
}

// TestTransaction is a test transaction and its steps.
type TestTransaction struct {
	PartnerReference string                `json:"partnerReference" example:"test-2026-03-17-1" doc:"The test transaction's reference, as given at creation (also the order's)."`
	Status           string                `json:"status" enum:"running,succeeded,failed,pending" doc:"succeeded: every step ok, and the checklist step staging_test is done. failed: the failed step's detail says why. pending: the wait (PARTNERHUB_TEST_TRANSACTION_TIMEOUT) ended first; repeat the request to resume. running: another request is running it."`
	SKU              string                `json:"sku" example:"gold-100" doc:"The staging bundle bought."`
	PlayerID         int64                 `json:"playerId" example:"1001" doc:"The player the plugin credited."`
	CountryCode      string                `json:"countryCode" example:"NG" doc:"ISO 3166-1 alpha-2 of the purchase's country."`
	Reference        string                `json:"reference,omitempty" example:"C-6f1c2a9b-P" doc:"The payment's reference at the simulator; get-payment shows its timeline."`
	Steps            []TestTransactionStep `json:"steps" nullable:"false" doc:"In the order they ran; the run stops at the first step that is not ok."`
	CreatedAt        time.Time             `json:"createdAt" doc:"When it was started."`
	UpdatedAt        time.Time             `json:"updatedAt" doc:"When it last progressed."`
}

func testTransactionOut(tx stagingtest.Transaction) TestTransaction {
	out := TestTransaction{PartnerReference: tx.PartnerReference, Status: tx.Status, SKU: tx.SKU, PlayerID: tx.PlayerID,
		CountryCode: tx.CountryCode, Reference: tx.Reference, Steps: make([]TestTransactionStep, 0, len(tx.Steps)),
		CreatedAt: tx.CreatedAt, UpdatedAt: tx.UpdatedAt}
	for _, s := range tx.Steps {
		out.Steps = append(out.Steps, TestTransactionStep{Name: s.Name, Result: s.Result, Detail: s.Detail, At: s.At})
	}
	return out
}

// CreateTestTransactionInput is create-test-transaction's.
type CreateTestTransactionInput struct {
	TestTransactionPath
	Body TestTransactionBody
}

// TestTransactionOutput is one test transaction.
type TestTransactionOutput struct {
	Location string `header:"Location" doc:"The test transaction's URL."`
	Body     TestTransaction
}

// TestTransactionIDInput names one test transaction.
type TestTransactionIDInput struct {
	TestTransactionPath
	PartnerReference string `path:"partnerReference" pattern:"^[A-Za-z0-9._~:-]{1,128}$" example:"test-2026-03-17-1" doc:"The test transaction's partnerReference, from its creation."`
}

// Register adds the test transaction operations to api.
func (h *TestTransactionHandler) Register(api huma.API) {
	const path = "/v1/tenants/{partnerCode}/environments/{env}/test-transactions"
	tags := []string{"Onboarding"}
	huma.Register(api, huma.Operation{
		OperationID: "create-test-transaction", Method: http.MethodPost, Path: path, Tags: tags,
		Summary: "Run a test transaction in staging",
		Description: "Runs a simulated purchase of one bundle for one player through the whole path, against partnerhub's " +
			"in-process Pay1st simulator: registers the tenant there with its staging credentials, creates an order on the " +
			"simulator gateway, has the simulator pay it (signed webhooks to this environment's payment-events URL), waits " +
			"for the fulfil job to have the plugin credit the player and for the fulfilment report to reach the simulator, " +
			"and answers each step (ok, failed, pending) with what happened. Waits at most PARTNERHUB_TEST_TRANSACTION_TIMEOUT " +
			"(30 s by default); a step not done by then is pending, and the same request again resumes it. A problem in the " +
			"purchase (missing credentials, a plugin refusing) is a failed step, not an error. Success marks the onboarding " +
			"checklist step staging_test done. Production is refused (422). Idempotent on partnerReference; another request " +
			"with the same one is 409. An unknown bundle is 422. 503 when this process runs no simulator. Operators, or the " +
			"tenant's admin keys (viewer keys get 403).",
		Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "get-test-transaction", Method: http.MethodGet, Path: path + "/{partnerReference}", Tags: tags,
		Summary:     "Get a test transaction",
		Description: "A test transaction's status and steps as last recorded (a running one shows its progress). Operators and the tenant's keys; another tenant's is not found (404).",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, h.get)
}

func (h *TestTransactionHandler) create(ctx context.Context, in *CreateTestTransactionInput) (*TestTransactionOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if h.tests == nil {
		return nil, huma.Error503ServiceUnavailable("this partnerhub process runs no simulator: test transactions are not available")
	}
	b := in.Body
	tx, _, err := h.tests.Run(ctx, t, in.Env, stagingtest.Request{PartnerReference: b.PartnerReference, SKU: b.SKU,
		BundleID: b.BundleID, PlayerID: b.PlayerID, CountryCode: b.CountryCode})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &TestTransactionOutput{Location: in.base() + "/" + url.PathEscape(tx.PartnerReference), Body: testTransactionOut(tx)}, nil
}

func (h *TestTransactionHandler) get(ctx context.Context, in *TestTransactionIDInput) (*TestTransactionOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if h.tests == nil {
		return nil, huma.Error503ServiceUnavailable("this partnerhub process runs no simulator: test transactions are not available")
	}
	tx, err := h.tests.Get(ctx, t, in.Env, in.PartnerReference)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &TestTransactionOutput{Location: in.base() + "/" + url.PathEscape(tx.PartnerReference), Body: testTransactionOut(tx)}, nil
}
