package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// BenchmarkNew measures what a test pays for its database: creating it and
// the first connection (new-ms), then dropping it (drop-ms). Each database is
// dropped before the next is made, so that a long run does not pile them up.
func BenchmarkNew(b *testing.B) {
	require.NotNil(b, current, "TestMain did not run pgtest.Main")
	ctx := context.Background()
	var made, dropped time.Duration
	for i := 0; i < b.N; i++ {
		began := time.Now()
		name := current.nextName(b.Name())
		require.NoError(b, current.create(ctx, name))
		pool, err := pgxpool.New(ctx, current.urlFor(name))
		require.NoError(b, err)
		require.NoError(b, pool.Ping(ctx))
		made += time.Since(began)

		began = time.Now()
		pool.Close()
		require.NoError(b, current.drop(ctx, name))
		dropped += time.Since(began)
	}
	b.ReportMetric(float64(made.Microseconds())/1000/float64(b.N), "new-ms")
	b.ReportMetric(float64(dropped.Microseconds())/1000/float64(b.N), "drop-ms")
}

func TestNames(t *testing.T) {
	s := &server{runID: "0123abcd"}
	require.Equal(t, "pgtest_0123abcd_1_testfoo_sub_case_2", s.nextName("TestFoo/sub-case#2"))
	long := s.nextName("TestAVeryLongTestNameThatGoesOnAndOnAndOnAndOnAndOnAndOn")
	require.Len(t, long, 63)
	require.Equal(t, "postgres://u@h:5432/db2?sslmode=disable", withDatabase("postgres://u@h:5432/db1?sslmode=disable", "db2"))
	require.Equal(t, "host=h dbname=db1 dbname=db2", withDatabase("host=h dbname=db1", "db2"))
}
