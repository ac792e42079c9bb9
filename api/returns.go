package api

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// referenceShape is what a payment reference in a customer return may look
// like: Pay1st's references (C-...-P, C1st_<uuid>) and then some, but
// nothing that needs escaping anywhere it goes.
var referenceShape = regexp.MustCompile(`^[A-Za-z0-9_.:~-]{1,128}$`)

// returnOutcomes are the customer callbacks of pay1st-protocol.md §2.
var returnOutcomes = map[string]struct {
	url   func(tenant.Callbacks) string
	title string
	text  string
}{
	"success": {func(c tenant.Callbacks) string { return c.Success }, "Payment successful", "Thank you: your payment went through. Your purchase will appear in the game shortly."},
	"failure": {func(c tenant.Callbacks) string { return c.Failure }, "Payment failed", "Your payment did not go through and you were not charged. You can close this page and try again."},
	"pending": {func(c tenant.Callbacks) string { return c.Pending }, "Payment pending", "Your payment is being processed. Your purchase will appear in the game once it is confirmed."},
	"cancel":  {func(c tenant.Callbacks) string { return c.Cancel }, "Payment cancelled", "You cancelled the payment and were not charged. You can close this page."},
}

// statusPage is the hosted page shown when the environment has no callback
// URL for an outcome: self-contained (no scripts, images, fonts or links),
// everything it shows escaped by html/template.
var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.5rem}code{background:#eee;padding:.1rem .3rem}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Text}}</p>{{if .Reference}}<p>Payment reference: <code>{{.Reference}}</code></p>{{end}}</body></html>
`))

// customerReturn ends Pay1st's browser redirect: 303 to the environment's
// callback URL for the outcome, with the payment reference appended, or a
// hosted status page when none is configured. Recorded like every call.
func (h *WebhookHandler) customerReturn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := h.newDelivery(r, payment.KindReturn)
	d.Body = []byte(clip(r.URL.RawQuery, maxQueryBytes))
	d.BodyTruncated = len(r.URL.RawQuery) > maxQueryBytes
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.reject(ctx, w, d, http.StatusMethodNotAllowed, pay1st.CodeMalformed, "method "+r.Method+" not allowed; use GET")
		return
	}
	env, err := h.tenants.Env(ctx, r.PathValue("partnerCode"), r.PathValue("env"))
	if errors.Is(err, tenant.ErrNotFound) {
		h.reject(ctx, w, d, http.StatusNotFound, pay1st.CodeNotFound, "unknown partnerCode or environment")
		return
	}
	if err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("resolve tenant: %w", err))
		return
	}
	d.TenantID = env.TenantID
	outcome, ok := returnOutcomes[r.PathValue("outcome")]
	if !ok {
		h.reject(ctx, w, d, http.StatusNotFound, pay1st.CodeNotFound, "unknown outcome; use success, failure, pending or cancel")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || d.BodyTruncated {
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeMalformed, "query is not valid URL encoding or too long")
		return
	}
	refs := q["reference"]
	var ref string
	switch {
	case len(refs) > 1:
		h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeInvalidField, "parameter reference is given more than once")
		return
	case len(refs) == 1:
		if !referenceShape.MatchString(refs[0]) {
			h.reject(ctx, w, d, http.StatusBadRequest, pay1st.CodeInvalidField,
				"parameter reference must be 1-128 characters A-Z a-z 0-9 _ . : ~ -")
			return
		}
		ref = refs[0]
	}
	d.Reference = ref
	target := outcome.url(env.Callbacks)
	status := http.StatusOK
	if target != "" {
		status = http.StatusSeeOther
	}
	d.Verdict, d.StatusCode = payment.VerdictAccepted, status
	if _, err := h.payments.RecordDelivery(ctx, d); err != nil {
		h.unavailable(ctx, w, d, fmt.Errorf("record return: %w", err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if target != "" {
		http.Redirect(w, r, withReference(target, ref), http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_ = statusPage.Execute(w, struct{ Title, Text, Reference string }{outcome.title, outcome.text, ref})
}

// withReference appends reference=ref to a callback URL's query, keeping the
// URL's own query and fragment as the studio wrote them.
func withReference(target, ref string) string {
	if ref == "" {
		return target
	}
	u, err := url.Parse(target)
	if err != nil {
		// Validated when configured; never reached.
		return target
	}
	param := "reference=" + url.QueryEscape(ref)
	if u.RawQuery == "" {
		u.RawQuery = param
	} else {
		u.RawQuery += "&" + param
	}
	return u.String()
}
