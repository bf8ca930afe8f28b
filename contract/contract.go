// Package contract holds the plain Go shape of SuperOffice's mirroring contract: the values that the
// SOAP layer (package protocol) decodes from the wire and hands to the mirroring engine (package engine),
// and the Handler interface through which it does so.
//
// It exists so that protocol and engine depend on a small neutral vocabulary rather than on each other:
// protocol knows XML and nothing about SQL, engine knows mirroring and nothing about XML, and both speak
// in these types. Nothing here does I/O.
package contract

import (
	"context"
	"errors"
)

// Call describes one authenticated call: who made it and the opaque state SuperOffice asks us to echo.
type Call struct {
	// Tenant is the SuperOffice customer (the token's ctx claim, e.g. "Cust10003"), already validated
	// against ^[A-Za-z0-9_]{1,50}$. No request body names the tenant: it comes from the token alone.
	Tenant string
	// ClientState is the request's ClientState text, echoed by Authenticate.
	ClientState string
}

// Column is one ColumnInfo of a TableSchemaInfo, exactly as received.
type Column struct {
	// Name is the column name; it is data, not SQL, and must always be quoted by a dialect.
	Name string
	// Type is the complete SQL Server type text, e.g. "nvarchar(255)".
	Type string
	// DefaultValue is empty or SQL Server default text including the keyword, e.g. "default ((0))".
	DefaultValue string
	// IsNullable reports whether the column accepts NULL.
	IsNullable bool
}

// TableSchema is one TableSchemaInfo: a table name and its columns in source order.
type TableSchema struct {
	Name    string
	Columns []Column
}

// TableLSN is the mirror's stored LSN for one table, or -1 when SuperOffice must wipe and resend it.
type TableLSN struct {
	Table string
	LSN   int64
}

// Operation is a RowData operation.
type Operation byte

// The three operations of RowData.
const (
	Insert Operation = 'I'
	Update Operation = 'U'
	Delete Operation = 'D'
)

// String returns the operation's wire letter.
func (o Operation) String() string { return string(rune(o)) }

// Value is one ColumnValues string: its raw text (XML entities already resolved) or NULL.
// Null and an empty Text are different things: <b:string i:nil="true"/> is NULL, <b:string/> is "".
type Value struct {
	Text []byte
	Null bool
}

// Row is one RowData element. Its Values are positional, in the batch's TableInfo column order; a
// Delete row may carry only the key columns.
type Row struct {
	Op     Operation
	Values []Value
}

// Rows iterates over the rows of one batch. A Row and the bytes it refers to are valid only until the
// next call to Next or Reset. Rows can be read more than once (Reset), so that the engine can make a
// second pass, e.g. deletes after upserts, or a retry through another path.
type Rows interface {
	// Next advances to the next row and reports whether there is one.
	Next() bool
	// Row returns the current row.
	Row() Row
	// Err returns the error that stopped iteration, if any.
	Err() error
	// Reset rewinds to the first row.
	Reset() error
	// Len returns the number of rows in the batch.
	Len() int
	// Counts returns how many rows of each operation the batch holds.
	Counts() (inserts, updates, deletes int)
}

// Batch is one RowDataBatch. On the wire its TableInfo follows its rows, so a decoder can hand out a
// Batch only once the whole batch has been read (see protocol's spool), or stream its rows before
// it knows whose they are (BatchStreamer).
type Batch struct {
	// Table is the batch's TableInfo: the table and the columns that Values are positional to.
	Table TableSchema
	// LSN is the batch's LSN; only a table's last batch carries a valid one (> 0).
	LSN int64
	// Rows are the batch's rows.
	Rows Rows
}

// Batches streams the batches of one RowData call. Next returns io.EOF after the last batch. The
// previous Batch (and its Rows) is invalid once Next is called again.
type Batches interface {
	Next(ctx context.Context) (*Batch, error)
}

// BatchStreamer is implemented by Batches that can hand out a batch's rows while they are decoded, so
// that the engine can load them as the request arrives instead of after it. Since a batch's
// TableInfo follows its rows on the wire, the engine must then guess the table, and check the guess
// once BatchStream.Batch has read the TableInfo. Stream and Next may be mixed: each begins the next
// batch, reading past the rest of a streamed batch whose Batch was not called.
type BatchStreamer interface {
	Batches
	// Stream begins the next batch and returns as soon as its rows begin (io.EOF after the last
	// batch). The stream is invalid once Next or Stream is called again.
	Stream(ctx context.Context) (BatchStream, error)
}

// BatchStream is a batch being decoded. Its rows are kept as they are read, so that Batch can hand
// the whole batch out afterwards, to be applied again another way.
type BatchStream interface {
	// Next decodes the next row; it is false after the batch's last row, or on an error (Err).
	Next() bool
	// Row returns the current row; it is valid until the next call to Next or Batch.
	Row() Row
	// Err returns the error that stopped Next, if any: a decoding error, which Batch returns too.
	Err() error
	// Batch decodes the rest of the batch (the rows not read yet, its LSN and its TableInfo) and
	// returns it, its Rows rewound to the first row: every row of the batch, those already streamed
	// included. It may be called at any time, once.
	Batch() (*Batch, error)
}

// Summary is one ReplicationSummary of ReplicationCompleted.
type Summary struct {
	Table   string
	Inserts int32
	Updates int32
	Deletes int32
}

// AuthResult is what the engine contributes to an Authenticate answer.
type AuthResult struct {
	// DoNotReplicate asks SuperOffice to skip this cycle (the tenant is paused by the operator).
	DoNotReplicate bool
}

// Handler carries out the five operations for an authenticated call. protocol calls it; engine
// implements it. An error's message is shown to SuperOffice as ErrorMessage, so implementations must
// keep it short and free of secrets, DSNs and row data beyond what PROTOCOL.md allows.
type Handler interface {
	Authenticate(ctx context.Context, call Call) (AuthResult, error)
	TableSchema(ctx context.Context, call Call, tables []TableSchema) ([]TableLSN, error)
	Wipe(ctx context.Context, call Call, table string) error
	RowData(ctx context.Context, call Call, batches Batches) error
	ReplicationCompleted(ctx context.Context, call Call, changed []Summary) error
}

// RedactedError is implemented by a Handler error whose message quotes row data for SuperOffice (a
// value that does not fit its column) and that can say the same without it. Logs use Redacted: they
// must never hold row data.
type RedactedError interface {
	error
	Redacted() string
}

// ErrUnknownTenant is returned (wrapped) by a Handler for a tenant that the configuration does not accept.
var ErrUnknownTenant = errors.New("tenant is not accepted by this mirror")
