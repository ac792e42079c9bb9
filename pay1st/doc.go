// Package pay1st holds the Pay1st wire contract as partnerhub speaks it: the
// Payment Webhook Event and its strict parser, the payment statuses, both
// HMAC signatures (the Gateway request signature, also used for webhook
// events, and the Summary Webhook signature), the X-TIMESTAMP freshness check
// and the error body partners return to Pay1st.
//
// The contract is described in pay1st-protocol.md. Everything here is pure:
// no I/O, no mutable package state, no project imports, so every other
// package may depend on it.
//
// Money is never parsed through float64: amounts are read from the JSON
// number literal text into a decimal.Decimal.
package pay1st
