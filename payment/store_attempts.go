package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// closeAttemptSQL ends a record's open attempt — the newest one not
// finished — given the placeholders of the fulfilment id, outcome and
// reason. It is a statement of its own or the last part of a WITH that
// changes the record.
func closeAttemptSQL(id, outcome, reason string) string {
	return `UPDATE fulfilment_attempts SET finished_at = now(), outcome = ` + outcome + `::text, reason = ` + reason + `::text
	WHERE fulfilment_id = ` + id + `::bigint AND finished_at IS NULL
	  AND number = (SELECT max(number) FROM fulfilment_attempts WHERE fulfilment_id = ` + id + `::bigint AND finished_at IS NULL)`
}

// releaseAttempt closes a record's open attempt as released.
func (store) releaseAttempt(ctx context.Context, q db.Querier, id int64, reason string) error {
	if _, err := q.Exec(ctx, closeAttemptSQL("$1", "$2", "$3"), id, OutcomeReleased, reason); err != nil {
		return fmt.Errorf("release fulfilment attempt: %w", err)
	}
	return nil
}

// attempts returns the attempts of the records ids, oldest first per
// record, at most limit (the newest) each.
func (store) attempts(ctx context.Context, q db.Querier, ids []int64, limit int) ([]Attempt, error) {
	rows, err := q.Query(ctx, `SELECT fulfilment_id, number, started_at, finished_at, outcome, reason,
		coalesce(plugin_id, 0), node FROM (
			SELECT *, row_number() OVER (PARTITION BY fulfilment_id ORDER BY number DESC) AS n
			FROM fulfilment_attempts WHERE fulfilment_id = ANY($1)) a
		WHERE n <= $2 ORDER BY fulfilment_id, number`, ids, limit)
	if err != nil {
		return nil, fmt.Errorf("fulfilment attempts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := row.Scan(&a.FulfilmentID, &a.Number, &a.StartedAt, &a.FinishedAt, &a.Outcome, &a.Reason, &a.PluginID, &a.Node)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("fulfilment attempts: %w", err)
	}
	return out, nil
}

// stuckCandidate is a pending record the sweeper looks at, with its
// payment's status.
type stuckCandidate struct {
	id, paymentID int64
	kind, status  string
	onHold        bool
}

// stuckCandidates locks up to limit pending records with id > after,
// untouched for grace, oldest first; rows locked by a running attempt or a
// retry are skipped (they are being settled).
func (store) stuckCandidates(ctx context.Context, tx pgx.Tx, after int64, grace time.Duration, limit int) ([]stuckCandidate, error) {
	rows, err := tx.Query(ctx, `SELECT f.id, f.payment_id, f.kind, p.status, p.on_hold
		FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE f.state = 'pending' AND f.id > $1 AND f.updated_at < now() - make_interval(secs => $2)
		ORDER BY f.id LIMIT $3 FOR UPDATE OF f SKIP LOCKED`, after, grace.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("pending fulfilments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stuckCandidate, error) {
		var c stuckCandidate
		err := row.Scan(&c.id, &c.paymentID, &c.kind, &c.status, &c.onHold)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("pending fulfilments: %w", err)
	}
	return out, nil
}

// failNoOutcome marks the pending records ids failed with ReasonNoOutcome
// and closes their open attempts as unknown.
func (store) failNoOutcome(ctx context.Context, tx pgx.Tx, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE fulfilments SET state = 'failed', last_error = $2, updated_at = now()
		WHERE id = ANY($1) AND state = 'pending'`, ids, ReasonNoOutcome)
	if err != nil {
		return 0, fmt.Errorf("fail stuck fulfilments: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fulfilment_attempts SET finished_at = now(), outcome = $2, reason = $3
		WHERE fulfilment_id = ANY($1) AND finished_at IS NULL`, ids, OutcomeUnknown, ReasonNoOutcome); err != nil {
		return 0, fmt.Errorf("close stuck attempts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
