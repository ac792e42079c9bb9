package plugins_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/tenant"
)

func (b bundle) tryUpload(name, version string, body io.Reader) (plugins.Uploaded, error) {
	return b.reg.Upload(context.Background(), plugins.UploadParams{TenantID: b.acme.ID, Name: name, Version: version,
		OS: runtime.GOOS, Arch: runtime.GOARCH}, body)
}

// untouched fails the test if the upload reads its body.
type untouched struct{ t *testing.T }

func (u untouched) Read([]byte) (int, error) {
	u.t.Error("the body was read: a tenant at its quota is refused before")
	return 0, io.EOF
}

func TestUploadQuotaCount(t *testing.T) {
	t.Parallel()
	b := setup(t, plugins.WithQuota(plugins.Quota{MaxPlugins: 2}))
	first := b.upload(t, "w", "1", fakeELF("1"))
	b.upload(t, "w", "2", fakeELF("2"))

	_, err := b.tryUpload("w", "3", bytes.NewReader(fakeELF("3")))
	require.ErrorIs(t, err, plugins.ErrQuota)
	var qe *plugins.QuotaError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, 2, qe.Plugins)
	require.Contains(t, err.Error(), "2 plugins")
	require.Equal(t, 2, b.count(t, "plugins"))
	require.Equal(t, 2, b.count(t, "plugin_blobs"), "nothing stored")

	_, err = b.tryUpload("w", "4", untouched{t})
	require.ErrorIs(t, err, plugins.ErrQuota)

	again, err := b.tryUpload("w", "1", bytes.NewReader(fakeELF("1")))
	require.NoError(t, err, "the same name, version and bytes add nothing: still answered")
	require.False(t, again.Created)

	require.NoError(t, b.reg.Delete(context.Background(), b.acme.ID, first.ID))
	up := b.upload(t, "w", "3", fakeELF("3"))
	require.True(t, up.Created, "room again after a deletion")
}

func TestUploadQuotaBytes(t *testing.T) {
	t.Parallel()
	b := setup(t, plugins.WithQuota(plugins.Quota{MaxBytes: 100}))
	b.upload(t, "w", "1", fakeELF(string(make([]byte, 56)))) // 60 bytes

	_, err := b.tryUpload("w", "2", bytes.NewReader(fakeELF(string(make([]byte, 56)))))
	var qe *plugins.QuotaError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, int64(60), qe.Bytes)
	require.Equal(t, int64(60), qe.Size)
	require.Equal(t, 1, b.count(t, "plugins"))
	require.Equal(t, 1, b.count(t, "plugin_blobs"), "the refused upload's bytes are not kept")

	up := b.upload(t, "w", "2", fakeELF(string(make([]byte, 36)))) // 40: exactly at the quota
	require.True(t, up.Created)
	_, err = b.tryUpload("w", "3", untouched{t})
	require.ErrorIs(t, err, plugins.ErrQuota, "full: refused before reading")
}

// TestUploadQuotaConcurrent: uploads at once cannot all pass the quota.
func TestUploadQuotaConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, plugins.WithQuota(plugins.Quota{MaxPlugins: 3}))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	var arrived sync.WaitGroup
	arrived.Add(n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			// Every body ends at once, so the uploads check the quota together.
			body := io.MultiReader(bytes.NewReader(fakeELF(fmt.Sprint(i))), readerFunc(func([]byte) (int, error) {
				arrived.Done()
				<-start
				return 0, io.EOF
			}))
			_, errs[i] = b.tryUpload("w", fmt.Sprint(i), body)
		})
	}
	arrived.Wait()
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, plugins.ErrQuota)
	}
	require.Equal(t, 3, ok)
	require.Equal(t, 3, b.count(t, "plugins"))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// failing is a body whose read fails after some bytes.
type failing struct {
	sent bool
	err  error
}

func (f *failing) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, fakeELF("partial")), nil
	}
	return 0, f.err
}

func TestUploadBodyReadErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.tryUpload("w", "1", &failing{err: fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)})
	var be *plugins.BodyReadError
	require.ErrorAs(t, err, &be)
	require.ErrorIs(t, err, plugins.ErrBodyRead)
	require.True(t, be.Timeout)
	require.Equal(t, int64(11), be.Read)

	_, err = b.tryUpload("w", "1", &failing{err: io.ErrUnexpectedEOF})
	require.ErrorAs(t, err, &be)
	require.False(t, be.Timeout, "cut off, not slow")
	require.Equal(t, 0, b.count(t, "plugins"))
}

// TestDeleteWhileOtherTenantUploadsSameBytes: a tenant deletes the last
// plugin using some bytes while another uploads the same bytes; the upload
// waits for the deletion and stores the bytes again instead of failing on
// the missing blob.
func TestDeleteWhileOtherTenantUploadsSameBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rival, err := b.tenants.Create(ctx, tenant.CreateParams{PartnerCode: "rival", PartnerID: 2, Name: "Rival"})
	require.NoError(t, err)
	bin := fakeELF("shared bytes")
	mine := b.upload(t, "w", "1", bin)

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	require.NoError(t, b.reg.DeleteTx(ctx, tx, b.acme.ID, mine.ID))

	done := make(chan error, 1)
	go func() {
		_, err := b.reg.Upload(ctx, plugins.UploadParams{TenantID: rival.Tenant.ID, Name: "w", Version: "1",
			OS: runtime.GOOS, Arch: runtime.GOARCH}, bytes.NewReader(bin))
		done <- err
	}()
	// The upload saw the blob (the deletion is not committed) and now waits
	// on its row.
	require.Eventually(t, func() bool {
		var waiting bool
		err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting)
		return err == nil && waiting
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, tx.Commit(ctx))

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the upload did not finish")
	}
	require.Equal(t, 1, b.count(t, "plugins"))
	require.Equal(t, 1, b.count(t, "plugin_blobs"), "the bytes are stored again")
	var data []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT data FROM plugin_blobs`).Scan(&data))
	require.Equal(t, bin, data)
}
