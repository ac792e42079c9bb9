// Package pay1st holds the Pay1st wire contract as partnerhub speaks it: the
// Payment Webhook Event and its strict parser, the payment statuses, both
// HMAC signatures (the Gateway request signature, also used for webhook
// events, and the Summary Webhook signature), the X-TIMESTAMP freshness check
// and the error body partners return to Pay1st.
//
// It also holds the outbound Gateway API client (Client, client*.go):
// tokens cached per partner's credentials, signed requests, create and query
// payment, fulfilment completion, with timeouts and bounded retries. The
// client is the one part with I/O; everything else is pure: no I/O, no
// mutable package state. No project imports either way, so every other
// package may depend on pay1st. A fake Pay1st for tests, dev mode and
// benchmarks is in pay1st/sim.
//
// The contract is described in pay1st-protocol.md.
//
// Money is never parsed through float64: amounts are read from the JSON
// number literal text into a decimal.Decimal.
package pay1st
