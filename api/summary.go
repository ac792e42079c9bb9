package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// summary receives the Summary Webhook (pay1st-protocol.md §4): a Shop
// payment completed, credit the player. As for payment events, nothing is
// parsed before the signature is verified, and nothing is acknowledged
// before it is committed; fulfilment is queued once per reference.
func (h *WebhookHandler) summary(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := h.newDelivery(r, payment.KindSummary)
	body, env, ok := h.receivePOST(w, r, &d, nil)
	if !ok {
		return
	}
	d.TenantID = env.TenantID
	// The key is the environment's Basic Auth credentials: without them no
	// summary can be verified, so none is accepted.
	if env.BasicAuthUsername == "" || env.BasicAuthPassword == "" {
		h.reject(ctx, w, d, http.StatusUnauthorized, pay1st.CodeUnauthorized,
			"no Basic Auth credentials are configured for this environment; summaries cannot be verified")
		return
	}
	sig := r.Header.Get(pay1st.HeaderSignature)
	if sig == "" {
		h.reject(ctx, w, d, http.StatusUnauthorized, pay1st.CodeUnauthorized, "missing "+pay1st.HeaderSignature+" header")
		return
	}
	if !pay1st.VerifySummary(env.BasicAuthUsername, env.BasicAuthPassword, body, sig) {
		h.reject(ctx, w, d, http.StatusUnauthorized, pay1st.CodeUnauthorized, "signature does not match")
		return
	}
	if env.TenantStatus != tenant.StatusActive {
		h.reject(ctx, w, d, http.StatusServiceUnavailable, pay1st.CodeUnavailable, msgSuspended)
		return
	}
	sum, err := pay1st.ParseSummary(body)
	var fe *pay1st.FieldError
	switch {
	case errors.As(err, &fe):
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeInvalidField, "field "+fe.Field+" "+fe.Problem)
		return
	case err != nil:
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeMalformed, err.Error())
		return
	}
	d.Reference = sum.Reference
	if sum.Status != pay1st.StatusSuccessful {
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeNotSuccessful,
			"field status is "+string(sum.Status)+"; only SUCCESSFUL summaries are credited")
		return
	}
	b, err := h.tenants.BundleByPay1stID(ctx, env.TenantID, env.Name, sum.ProductBundleID)
	if errors.Is(err, tenant.ErrNotFound) {
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeUnknownBundle,
			"field productBundleId "+strconv.FormatInt(sum.ProductBundleID, 10)+" is no bundle's Pay1st id in this environment")
		return
	}
	if err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("resolve bundle: %w", err))
		return
	}
	res, err := h.payments.IngestSummary(ctx, env, d, payment.ShopSummary{Summary: sum, BundleID: b.ID})
	if errors.Is(err, payment.ErrReferenceTaken) {
		h.reject(ctx, w, d, http.StatusUnprocessableEntity, pay1st.CodeReferenceTaken,
			"field reference is a gateway payment's reference")
		return
	}
	if err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("ingest summary: %w", err))
		return
	}
	ack := Ack{Status: payment.VerdictAccepted, SessionID: d.SessionID, Reference: sum.Reference}
	if res.Duplicate {
		ack.Status = payment.VerdictDuplicate
	}
	h.logger.InfoContext(ctx, "summary accepted", "session_id", d.SessionID, "partner_code", env.PartnerCode,
		"env", env.Name, "reference", sum.Reference, "bundle_id", b.ID, "duplicate", res.Duplicate,
		"fulfil_queued", res.Enqueued)
	writeJSON(w, http.StatusOK, ack)
}
