package simulator

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/protocol"
)

// DefaultBatchBytes is the default size of a RowData call, SuperOffice's default BatchSize.
const DefaultBatchBytes = 1_000_000

// DriverConfig configures a Driver.
type DriverConfig struct {
	// URL is the mirroring service's address.
	URL string
	// Tenant is the SuperOffice customer the tokens name, e.g. "Cust12345".
	Tenant string
	// ClientID, when set, becomes the tokens' audience (spn:<ClientID>).
	ClientID string
	// SigningKey signs the tokens, standing in for SuperOffice's federated-login key; the service must
	// trust its certificate. KeyID is the certificate's thumbprint (protocol.CertificateThumbprint).
	SigningKey *rsa.PrivateKey
	KeyID      string
	// AppPublicKey, when set, verifies Authenticate's SignedApplicationToken as SuperOffice does.
	AppPublicKey *rsa.PublicKey
	// BatchBytes is the approximate XML size of one RowData call (default DefaultBatchBytes).
	BatchBytes int
	// Parallel is how many tables are sent at once (default 4).
	Parallel int
	// Gzip compresses request bodies.
	Gzip bool
	// HTTP is the client; nil makes one that keeps Parallel connections open.
	HTTP *http.Client
	// Progress, when set, is called about every half second during a cycle and once at its end.
	Progress func(Progress)
}

// Progress is a cycle's progress so far.
type Progress struct {
	Tables, TablesDone int
	Rows               int64
	Bytes              int64
	Elapsed            time.Duration
	Done               bool
}

// TableResult is what one cycle did to one table.
type TableResult struct {
	Table string
	// Full says the table was wiped and sent whole; Reason says why.
	Full   bool
	Reason string
	// MirrorLSN is what TableSchema answered; LSN is what the table's last batch carried (0: nothing sent).
	MirrorLSN, LSN            int64
	Inserts, Updates, Deletes int64
	Calls, Batches            int
	Bytes                     int64
}

// CycleResult is one replication cycle.
type CycleResult struct {
	// Skipped says the service asked to skip this cycle (doNotReplicate: the tenant is paused).
	Skipped  bool
	Build    string
	Tables   []TableResult
	Rows     int64
	Bytes    int64
	Duration time.Duration
}

// RowsPerSecond is the cycle's throughput.
func (r CycleResult) RowsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Duration.Seconds()
}

// Summary is a one-line description of the cycle.
func (r CycleResult) Summary() string {
	if r.Skipped {
		return "cycle skipped: the service asked not to replicate (tenant paused)"
	}
	var ins, upd, del int64
	full, changed := 0, 0
	for _, t := range r.Tables {
		ins, upd, del = ins+t.Inserts, upd+t.Updates, del+t.Deletes
		if t.Full {
			full++
		}
		if t.LSN > 0 {
			changed++
		}
	}
	return fmt.Sprintf("%d tables (%d sent, %d of them whole), %d rows (I %d, U %d, D %d), %.1f MB in %s: %.0f rows/s",
		len(r.Tables), changed, full, r.Rows, ins, upd, del, float64(r.Bytes)/1e6, r.Duration.Round(time.Millisecond), r.RowsPerSecond())
}

// Driver runs replication cycles against a mirroring service, as SuperOffice's Mirroring Task does.
type Driver struct {
	cfg    DriverConfig
	client *protocol.Client
}

// NewDriver checks cfg and returns a Driver.
func NewDriver(cfg DriverConfig) (*Driver, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("driver: no service URL")
	case cfg.Tenant == "":
		return nil, errors.New("driver: no tenant")
	case cfg.SigningKey == nil:
		return nil, errors.New("driver: no signing key")
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	hc := cfg.HTTP
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Parallel + 1
		hc = &http.Client{Transport: tr}
	}
	return &Driver{cfg: cfg, client: &protocol.Client{URL: cfg.URL, HTTP: hc, Gzip: cfg.Gzip}}, nil
}

// token signs a fresh token with a fresh nonce, as SuperOffice does for every call.
func (d *Driver) token() (token, nonce string, err error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("driver: nonce: %w", err)
	}
	nonce = strings.ToUpper(hex.EncodeToString(b[:]))
	now := time.Now()
	token, err = protocol.SignTestToken(d.cfg.SigningKey, d.cfg.KeyID, protocol.TestTokenClaims{
		Tenant: d.cfg.Tenant, Nonce: nonce, ClientID: d.cfg.ClientID,
		NotBefore: now.Add(-time.Minute), Expires: now.Add(6 * time.Minute),
	})
	return token, nonce, err
}

// CycleError is a cycle that the service failed with IsSuccessful=false.
type CycleError struct {
	Op      string
	Table   string
	Message string
}

func (e *CycleError) Error() string {
	if e.Table != "" {
		return fmt.Sprintf("%s of %s failed: %s", e.Op, e.Table, e.Message)
	}
	return fmt.Sprintf("%s failed: %s", e.Op, e.Message)
}

// Cycle runs one replication cycle of every table of src: Authenticate, TableSchema, per table an
// optional Wipe and RowData calls (tables in parallel, one call at a time per table), then
// ReplicationCompleted. Any IsSuccessful=false fails the cycle with the service's message.
func (d *Driver) Cycle(ctx context.Context, src *Source) (CycleResult, error) {
	start := time.Now()
	res := CycleResult{}
	tables, err := src.Tables(ctx)
	if err != nil {
		return res, err
	}

	tok, nonce, err := d.token()
	if err != nil {
		return res, err
	}
	auth, err := d.client.Authenticate(ctx, tok, protocol.AuthenticateRequest{ClientState: "simulator"})
	if err != nil {
		return res, fmt.Errorf("Authenticate: %w", err)
	}
	if !auth.IsSuccessful {
		return res, &CycleError{Op: "Authenticate", Message: auth.ErrorMessage}
	}
	if d.cfg.AppPublicKey != nil {
		if err := protocol.VerifyApplicationToken(d.cfg.AppPublicKey, auth.SignedApplicationToken, nonce, time.Now(), 15*time.Minute); err != nil {
			return res, fmt.Errorf("Authenticate: the service's answer does not verify with the application's public key: %w", err)
		}
	}
	res.Build = auth.SuperOfficeMirroringBuild
	if doNotReplicate(auth.AdditionalInformationJson) {
		res.Skipped = true
		res.Duration = time.Since(start)
		return res, nil
	}

	schemas := make([]contract.TableSchema, len(tables))
	for i, t := range tables {
		schemas[i] = t.Schema()
	}
	if tok, _, err = d.token(); err != nil {
		return res, err
	}
	ts, err := d.client.TableSchema(ctx, tok, protocol.TableSchemaRequest{ClientState: "simulator", Tables: schemas})
	if err != nil {
		return res, fmt.Errorf("TableSchema: %w", err)
	}
	if !ts.IsSuccessful {
		return res, &CycleError{Op: "TableSchema", Message: ts.ErrorMessage}
	}
	lsns := map[string]int64{}
	for _, l := range ts.MirrorLSN {
		lsns[l.Table] = l.LSN
	}
	for _, t := range tables {
		if _, ok := lsns[t.Name]; !ok {
			return res, fmt.Errorf("TableSchema: the answer has no LSN for table %s", t.Name)
		}
	}

	res.Tables = make([]TableResult, len(tables))
	var (
		rows, bytes atomic.Int64
		done        atomic.Int64
		firstErr    error
		errOnce     sync.Once
		wg          sync.WaitGroup
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopProgress := d.progress(start, len(tables), &rows, &bytes, &done)
	sem := make(chan struct{}, d.cfg.Parallel)
	for i, t := range tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-cctx.Done():
				return
			}
			defer func() { <-sem }()
			tr, err := d.sendTable(cctx, src, t, lsns[t.Name], &rows, &bytes)
			res.Tables[i] = tr
			done.Add(1)
			if err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		}()
	}
	wg.Wait()
	stopProgress()
	res.Rows, res.Bytes = rows.Load(), bytes.Load()
	if firstErr != nil {
		res.Duration = time.Since(start)
		return res, firstErr
	}

	var changed []contract.Summary
	for _, tr := range res.Tables {
		if tr.LSN > 0 {
			changed = append(changed, contract.Summary{Table: tr.Table, Inserts: clamp32(tr.Inserts), Updates: clamp32(tr.Updates), Deletes: clamp32(tr.Deletes)})
		}
	}
	if tok, _, err = d.token(); err != nil {
		return res, err
	}
	rc, err := d.client.ReplicationCompleted(ctx, tok, protocol.ReplicationCompletedRequest{ClientState: "simulator", ChangedTables: changed})
	if err != nil {
		return res, fmt.Errorf("ReplicationCompleted: %w", err)
	}
	if !rc.IsSuccessful {
		return res, &CycleError{Op: "ReplicationCompleted", Message: rc.ErrorMessage}
	}
	res.Duration = time.Since(start)
	if d.cfg.Progress != nil {
		d.cfg.Progress(Progress{Tables: len(tables), TablesDone: len(tables), Rows: res.Rows, Bytes: res.Bytes, Elapsed: res.Duration, Done: true})
	}
	return res, nil
}

func clamp32(n int64) int32 {
	if n > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(n)
}

// doNotReplicate reads AdditionalInformationJson's doNotReplicate ("true" or true).
func doNotReplicate(js string) bool {
	if strings.TrimSpace(js) == "" {
		return false
	}
	var m map[string]any
	if json.Unmarshal([]byte(js), &m) != nil {
		return false
	}
	switch v := m["doNotReplicate"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// progress reports progress every half second until the returned function is called.
func (d *Driver) progress(start time.Time, tables int, rows, bytes, done *atomic.Int64) func() {
	if d.cfg.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d.cfg.Progress(Progress{Tables: tables, TablesDone: int(done.Load()), Rows: rows.Load(), Bytes: bytes.Load(), Elapsed: time.Since(start)})
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// XML overhead per value and per row, to size calls without encoding them twice.
const (
	valueOverhead = len(`<b:string></b:string>`)
	nullSize      = len(`<b:string i:nil="true"/>`)
	rowOverhead   = len(`<a:RowData><a:ColumnValues xmlns:b="http://schemas.microsoft.com/2003/10/Serialization/Arrays"></a:ColumnValues><a:Operation>I</a:Operation></a:RowData>`)
)

// sendTable sends one table: Wipe and everything, or the changes since the mirror's LSN.
func (d *Driver) sendTable(ctx context.Context, src *Source, t Table, mirrorLSN int64, rows, bytes *atomic.Int64) (TableResult, error) {
	tr := TableResult{Table: t.Name, MirrorLSN: mirrorLSN}
	cur, err := src.OpenCursor(ctx, t, mirrorLSN)
	if err != nil {
		return tr, err
	}
	defer cur.Close()
	tr.Full, tr.Reason = cur.Full, cur.Reason
	have := cur.Next()
	if !have {
		if err := cur.Err(); err != nil {
			return tr, fmt.Errorf("source: read %s: %w", t.Name, err)
		}
		if !cur.Full {
			return tr, nil // nothing changed since the mirror's LSN
		}
	}
	if cur.Full {
		tok, _, err := d.token()
		if err != nil {
			return tr, err
		}
		w, err := d.client.Wipe(ctx, tok, protocol.WipeRequest{ClientState: "simulator", TableName: t.Name})
		if err != nil {
			return tr, fmt.Errorf("Wipe of %s: %w", t.Name, err)
		}
		if !w.IsSuccessful {
			return tr, &CycleError{Op: "Wipe", Table: t.Name, Message: w.ErrorMessage}
		}
	}
	schema := t.Schema()
	batchTarget := max(d.cfg.BatchBytes/2, 1)
	for first := true; first || have; first = false {
		tok, _, err := d.token()
		if err != nil {
			return tr, err
		}
		var callBytes int64
		resp, err := d.client.RowData(ctx, tok, "simulator", func(enc *protocol.RowDataEncoder) error {
			for {
				if err := enc.BeginBatch(); err != nil {
					return err
				}
				batchBytes := 0
				for have && batchBytes < batchTarget {
					op, vals := cur.Row()
					if err := enc.Row(op, vals); err != nil {
						return err
					}
					size := rowOverhead
					for _, v := range vals {
						if v.Null {
							size += nullSize
						} else {
							size += valueOverhead + len(v.Text)
						}
					}
					batchBytes += size
					switch op {
					case contract.Insert:
						tr.Inserts++
					case contract.Update:
						tr.Updates++
					case contract.Delete:
						tr.Deletes++
					}
					rows.Add(1)
					have = cur.Next()
				}
				if err := cur.Err(); err != nil {
					return fmt.Errorf("source: read %s: %w", t.Name, err)
				}
				var lsn int64
				if !have {
					lsn = cur.LSN // only a table's last batch carries the LSN
				}
				if err := enc.EndBatch(lsn, schema); err != nil {
					return err
				}
				tr.Batches++
				callBytes += int64(batchBytes)
				if !have {
					tr.LSN = lsn
				}
				if !have || callBytes >= int64(d.cfg.BatchBytes) {
					return nil
				}
			}
		})
		tr.Calls++
		tr.Bytes += callBytes
		bytes.Add(callBytes)
		if err != nil {
			tr.LSN = 0
			return tr, fmt.Errorf("RowData of %s: %w", t.Name, err)
		}
		if !resp.IsSuccessful {
			tr.LSN = 0
			return tr, &CycleError{Op: "RowData", Table: t.Name, Message: resp.ErrorMessage}
		}
	}
	return tr, nil
}
