package api

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// MaxRequestHeaderBytes bounds the headers of a request to a Pay1st-facing
// endpoint. The server's own limit (serve's http.Server.MaxHeaderBytes) is
// larger, so oversized headers reach this check and are answered in
// Pay1st's error body and recorded, instead of Go's plain-text 431.
const MaxRequestHeaderBytes = 32 << 10

// admit refuses, before anything else runs, what no endpoint accepts:
// oversized headers (431), and a body declared as something other than JSON
// (415). Pay1st sends JSON; a missing Content-Type is tolerated.
func (h *WebhookHandler) admit(next http.HandlerFunc, kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, code, msg := 0, "", ""
		switch {
		case headerBytes(r.Header) > MaxRequestHeaderBytes:
			status, code = http.StatusRequestHeaderFieldsTooLarge, pay1st.CodeMalformed
			msg = "request headers larger than " + strconv.Itoa(MaxRequestHeaderBytes) + " bytes"
		case r.Method == http.MethodPost && !jsonContentType(r.Header.Get("Content-Type")):
			status, code = http.StatusUnsupportedMediaType, pay1st.CodeMalformed
			msg = "Content-Type must be application/json"
		default:
			next(w, r)
			return
		}
		d := h.newDelivery(r, kind)
		if env, err := h.tenants.Env(r.Context(), r.PathValue("partnerCode"), r.PathValue("env")); err == nil {
			d.TenantID = env.TenantID
		} else if !errors.Is(err, tenant.ErrNotFound) {
			h.logger.WarnContext(r.Context(), "cannot resolve tenant of a refused request", "err", err)
		}
		h.reject(r.Context(), w, d, status, code, msg)
	}
}

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// jsonContentType accepts no Content-Type, application/json and any
// +json type, with parameters (charset) ignored.
func jsonContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
