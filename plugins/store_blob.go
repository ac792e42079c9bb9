package plugins

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL that reads executables in pieces (plugin_blobs), so that no node
// holds a whole one in memory to cache it.

// blobChunk is how much of an executable one query reads. Larger pieces
// mean fewer queries; with a compressed (TOASTed) value each query
// decompresses up to its end, so not much smaller either.
const blobChunk = 4 << 20

// blobLen is the length of a stored executable; ErrNotFound if none.
func blobLen(ctx context.Context, q db.Querier, sha string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT octet_length(data) FROM plugin_blobs WHERE sha256 = $1`, sha).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("fetch plugin binary size: %w", err)
	}
	return n, nil
}

// blobPart reads n bytes of an executable from offset off (0-based).
func blobPart(ctx context.Context, q db.Querier, sha string, off, n int64) ([]byte, error) {
	var part []byte
	err := q.QueryRow(ctx, `SELECT substring(data FROM $2::int FOR $3::int) FROM plugin_blobs WHERE sha256 = $1`,
		sha, off+1, n).Scan(&part)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("fetch plugin binary: %w", err)
	}
	return part, nil
}
