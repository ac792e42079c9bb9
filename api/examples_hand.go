package api

import "maps"

// handExamples are whole examples for schemas whose fields' own examples,
// put together, would contradict each other: a state with the timestamps
// of another, a verdict with the reason of another, a hold flag off with
// the hold's reason. Some schemas get two examples, one per shape (a
// failed and a succeeded fulfilment), so that between them every field
// shows a value in a state where it is set. Nested uses take the first.
// TestOpenAPIIsDocumented checks each against its schema and that every
// property appears, so a field added later fails there until it is shown.
func handExamples() map[string][]any {
	const (
		created  = "2026-03-17T10:14:03Z"
		paidAt   = "2026-03-17T10:15:30Z"
		attempt1 = "2026-03-17T10:15:31Z"
		failedAt = "2026-03-17T10:15:36Z"
		attempt2 = "2026-03-17T10:16:01Z"
		doneAt   = "2026-03-17T10:16:02Z"
		heldAt   = "2026-03-17T11:02:45Z"
	)
	errorDetail := map[string]any{
		"location": "body.partnerCode",
		"message":  "expected string to match pattern ^[a-z0-9][a-z0-9_-]{1,63}$",
		"value":    "Acme Games",
	}
	errorModel := map[string]any{
		"type":   "about:blank",
		"title":  "Unprocessable Entity",
		"status": 422,
		"detail": "validation failed",
		"errors": []any{errorDetail},
	}
	// A token-mode environment with every credential set, its Signing Key
	// and webhook token both rotated within the grace period.
	creds := map[string]any{
		"apiKeySet": true, "apiKeyUpdatedAt": created,
		"apiSecretSet": true, "apiSecretUpdatedAt": created,
		"signingKeySet": true, "signingKeyUpdatedAt": heldAt,
		"previousSigningKeyValidUntil": "2026-03-18T11:02:45Z",
		"basicAuthUsernameSet":         true, "basicAuthUsernameUpdatedAt": created,
		"basicAuthPasswordSet": true, "basicAuthPasswordUpdatedAt": created,
		"webhookTokenSet": true, "webhookTokenUpdatedAt": heldAt,
		"previousWebhookTokenValidUntil": "2026-03-18T11:02:45Z",
	}

	failedAttempt := map[string]any{
		"number": 1, "startedAt": attempt1, "finishedAt": failedAt, "outcome": "failed",
		"reason": "plugin asked to retry: game backend down", "pluginId": 12,
	}
	succeededAttempt := map[string]any{
		"number": 2, "startedAt": attempt2, "finishedAt": doneAt, "outcome": "succeeded", "pluginId": 12,
	}
	fulfilPending := map[string]any{
		"kind": "fulfil", "state": "pending", "attempts": 1,
		"lastError": "plugin asked to retry: game backend down", "history": []any{failedAttempt},
	}
	fulfilSucceeded := map[string]any{
		"kind": "fulfil", "state": "succeeded", "attempts": 2, "resultReference": "game-tx-91",
		"succeededAt": doneAt, "history": []any{failedAttempt, succeededAttempt},
	}
	reportPending := map[string]any{
		"state": "pending", "attempts": 1, "lastError": "pay1st: complete fulfilment: HTTP 503",
		"fulfilledAt": doneAt, "products": []any{},
	}
	reportSucceeded := map[string]any{
		"state": "succeeded", "attempts": 2, "fulfilledAt": doneAt,
		"products": []any{map[string]any{"sku": "GEMS-100", "quantity": 2}}, "reportedAt": "2026-03-17T10:16:40Z",
	}
	// A payment fulfilled and reported, then put on hold by a later event
	// whose amount differs: nothing more happens to it until released.
	payment := map[string]any{
		"reference": "C-1795274958-P", "partnerReference": "order-8812", "status": "SUCCESSFUL",
		"statusUpdatedAt": paidAt, "amount": "1234.50", "currencyCode": "NGN", "countryCode": "NG",
		"customerId": 77, "paymentMethod": "CARD", "createdDate": "2026-03-17T10:14:02Z",
		"createdAt": created, "updatedAt": heldAt, "onHold": true,
		"holdReason": "amount 1299.50 differs from the payment's first event (1234.50)", "heldAt": heldAt,
	}
	// The timeline in three shapes: held after a failed first attempt
	// (nothing more happens until released); fulfilled, its report to Pay1st
	// being retried; fulfilled and reported.
	held := maps.Clone(payment)
	held["events"] = []any{
		map[string]any{"status": "SUCCESSFUL", "updatedDate": paidAt, "applied": true, "flagged": false,
			"deliveryId": 1207, "receivedAt": paidAt},
		map[string]any{"status": "PENDING", "updatedDate": "2026-03-17T11:02:40Z", "applied": false, "flagged": true,
			"flagReason": "transition SUCCESSFUL -> PENDING is not allowed", "deliveryId": 1311, "receivedAt": heldAt},
	}
	held["deliveries"] = []any{
		map[string]any{"id": 1207, "sessionId": "c5a552942a9100b99686117d", "receivedAt": paidAt,
			"kind": "payment_event", "verdict": "accepted", "statusCode": 200},
		map[string]any{"id": 1208, "sessionId": "0b7e1f3c9a4d5e6f7a8b9c0d", "receivedAt": "2026-03-17T10:15:42Z",
			"kind": "payment_event", "verdict": "duplicate", "reason": "event already recorded", "statusCode": 200},
	}
	held["fulfilments"] = []any{fulfilPending}
	held["truncated"] = false
	fulfilled := maps.Clone(held)
	fulfilled["onHold"] = false
	delete(fulfilled, "holdReason")
	delete(fulfilled, "heldAt")
	fulfilled["updatedAt"] = doneAt
	fulfilled["events"] = held["events"].([]any)[:1]
	fulfilled["deliveries"] = held["deliveries"]
	fulfilled["fulfilments"] = []any{fulfilSucceeded}
	fulfilled["report"] = reportPending
	reported := maps.Clone(fulfilled)
	reported["report"] = reportSucceeded
	reported["updatedAt"] = "2026-03-17T10:16:40Z"

	released := maps.Clone(payment)
	released["onHold"] = false
	delete(released, "holdReason")
	delete(released, "heldAt")
	released["updatedAt"] = "2026-03-17T11:30:00Z"
	released["fulfilQueued"] = false
	released["reverseQueued"] = false

	fulfilmentFailed := map[string]any{
		"id": 4411, "environment": "staging", "kind": "fulfil", "state": "failed", "reference": "C-1795274958-P",
		"paymentStatus": "SUCCESSFUL", "attempts": 3, "lastError": "rejected by plugin: player banned",
		"createdAt": paidAt, "updatedAt": "2026-03-17T10:21:12Z",
	}
	fulfilmentSucceeded := map[string]any{
		"id": 4418, "environment": "staging", "kind": "fulfil", "state": "succeeded", "reference": "C-1795275102-P",
		"paymentStatus": "SUCCESSFUL", "attempts": 1, "resultReference": "game-tx-91", "succeededAt": doneAt,
		"createdAt": paidAt, "updatedAt": doneAt,
	}
	fulfilmentRequeued := maps.Clone(fulfilmentFailed)
	fulfilmentRequeued["state"] = "pending"
	fulfilmentRequeued["updatedAt"] = "2026-03-17T12:00:00Z"

	steps := []any{
		map[string]any{"name": "credentials", "result": "ok", "detail": "staging's Pay1st credentials are set", "at": "2026-03-17T10:15:00Z"},
		map[string]any{"name": "simulator", "result": "ok", "detail": "the simulator knows the tenant", "at": "2026-03-17T10:15:00Z"},
		map[string]any{"name": "order", "result": "ok", "detail": "order test-2026-03-17-1 created as C-6f1c2a9b-P", "at": "2026-03-17T10:15:01Z"},
		map[string]any{"name": "payment", "result": "ok", "detail": "the simulator paid and sent the signed events", "at": "2026-03-17T10:15:02Z"},
		map[string]any{"name": "webhook", "result": "ok", "detail": "partnerhub recorded the payment SUCCESSFUL", "at": "2026-03-17T10:15:02Z"},
		map[string]any{"name": "fulfilment", "result": "ok", "detail": "the plugin credited player 1001 (its reference \"wallet-17\")", "at": "2026-03-17T10:15:03Z"},
		map[string]any{"name": "report", "result": "ok", "detail": "Pay1st accepted the fulfilment report", "at": "2026-03-17T10:15:04Z"},
	}

	delivery := map[string]any{
		"id": 1207, "sessionId": "c5a552942a9100b99686117d", "receivedAt": paidAt, "partnerCode": "acme-games",
		"env": "staging", "kind": "payment_event", "remoteAddr": "203.0.113.9:41230", "verdict": "rejected",
		"reason": "signature does not match", "statusCode": 401, "reference": "C-1795274958-P",
		"headers":       map[string]any{"Content-Type": "application/json", "X-Signature": "3f1c…", "X-Timestamp": "1773742530"},
		"bodyTruncated": false,
		"bodyEncoding":  "utf-8",
	}
	// get-delivery shows the body; lists do not.
	deliveryWithBody := maps.Clone(delivery)
	deliveryWithBody["body"] = `{"reference":"C-1795274958-P","status":"SUCCESSFUL","orderAmount":1234.5,"currencyCode":"NGN"}`

	return map[string][]any{
		// Just created: never used, not revoked.
		"CreatedAPIKey": {map[string]any{
			"prefix": "k3jq7x2m", "name": "CI deploys", "scope": "tenant", "partnerCode": "acme-games", "role": "admin",
			"createdAt": created, "key": "phk_k3jq7x2m_Qm9vZ2xlLWl0LXRoaXMtaXMtbm90LWEtcmVhbC1rZXk",
		}},
		"ErrorDetail": {errorDetail},
		"ErrorModel":  {errorModel},
		"ErrorBody": {map[string]any{
			"errorMessage": "signature does not match", "errorCode": "UNAUTHORIZED", "sessionId": "c5a552942a9100b99686117d",
		}},
		// Placeholders, plainly not real secrets.
		"SetCredentialsBody": {map[string]any{
			"apiKey": "example-api-key", "apiSecret": "example-api-secret", "signingKey": "example-signing-key",
			"basicAuthUsername": "example-user", "basicAuthPassword": "example-password",
		}},
		"EnvironmentCredentials": {creds},
		"PaymentAttempt":         {failedAttempt, succeededAttempt},
		"PaymentFulfilment":      {fulfilPending, fulfilSucceeded},
		"PaymentReport":          {reportPending, reportSucceeded},
		"Payment":                {payment},
		"PaymentTimeline":        {held, fulfilled, reported},
		"ReleaseHoldOutputBody":  {released},
		"TimelineEvent":          held["events"].([]any),
		"PaymentDelivery":        held["deliveries"].([]any),
		"Fulfilment":             {fulfilmentFailed, fulfilmentSucceeded},
		"RetryFulfilmentsOutputBody": {map[string]any{
			"requeued": []any{fulfilmentRequeued},
			"skipped":  []any{map[string]any{"id": 4412, "reason": "it is pending, not failed"}},
			"more":     false,
		}},
		"TestTransactionStep": {steps[5]},
		"TestTransaction": {map[string]any{
			"partnerReference": "test-2026-03-17-1", "status": "succeeded", "sku": "gold-100", "playerId": 1001,
			"countryCode": "NG", "reference": "C-6f1c2a9b-P", "steps": steps,
			"createdAt": "2026-03-17T10:15:00Z", "updatedAt": "2026-03-17T10:15:04Z",
		}},
		"Delivery":     {deliveryWithBody},
		"DeliveryList": {map[string]any{"items": []any{delivery}, "nextCursor": "MTIwNw"}},
	}
}
