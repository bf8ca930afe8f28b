// Package typemap turns SQL Server type strings into a typed column model and decodes the wire values
// of SuperOffice's Mirroring Task ([I:1], [DT:…], …) into Go values. It is pure functions and tables:
// no I/O. Each dialect package renders the model into its own DDL; see TYPES.md for the mapping.
package typemap

// Kind is a SQL Server base type.
type Kind uint8

// The SQL Server base types. Aliases collapse onto one Kind (numeric → Decimal, rowversion →
// RowVersion, float(1..24) → Real, float(25..53) → Float).
const (
	Invalid Kind = iota
	Bit
	TinyInt
	SmallInt
	Int
	BigInt
	Decimal // decimal(p,s) and numeric(p,s)
	Money
	SmallMoney
	Float // float, float(25..53): 8-byte IEEE
	Real  // real, float(1..24): 4-byte IEEE
	Date
	Time // time(p)
	SmallDateTime
	DateTime
	DateTime2      // datetime2(p)
	DateTimeOffset // datetimeoffset(p)
	Char
	VarChar
	NChar
	NVarChar
	Text
	NText
	Binary
	VarBinary
	Image
	RowVersion // timestamp / rowversion: an 8-byte version counter, not a time
	UniqueIdentifier
	XML
	HierarchyID
	Geography
	Geometry
	SQLVariant
	SysName
)

// Max is the Length of a (n)varchar(max) or varbinary(max) column.
const Max = -1

// Type is a parsed SQL Server column type.
type Type struct {
	Kind Kind
	// Length is n of char(n), varchar(n), nchar(n), nvarchar(n), binary(n), varbinary(n), or Max.
	// It is 0 for kinds without a length.
	Length int
	// Precision is p of decimal(p,s), the fractional-second digits of time/datetime2/datetimeoffset,
	// or the mantissa bits of float(n). Defaults are filled in by ParseType (decimal 18, time 7).
	Precision int
	// Scale is s of decimal(p,s).
	Scale int
}

// Column is one column of a mirrored table in the typed model.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	// Default is the parsed DefaultValue; nil when the column has none.
	Default *Default
}

// DefaultKind says what a parsed SQL Server default is.
type DefaultKind uint8

// The kinds of default that a dialect may be asked to render.
const (
	// DefaultLiteral is a constant: Default.Literal holds its text without SQL quoting, already
	// unescaped ('' → '), and Default.IsString says whether it was a string literal (N'…' or '…').
	DefaultLiteral DefaultKind = iota + 1
	// DefaultNull is "default (NULL)".
	DefaultNull
	// DefaultNow is getdate(), current_timestamp, sysdatetime(): local time of the server.
	DefaultNow
	// DefaultUTCNow is getutcdate(), sysutcdatetime().
	DefaultUTCNow
	// DefaultNowOffset is sysdatetimeoffset().
	DefaultNowOffset
	// DefaultNewID is newid() or newsequentialid().
	DefaultNewID
	// DefaultUnsupported is anything else; Default.Raw holds the SQL Server text. Dialects drop it with
	// a warning.
	DefaultUnsupported
)

// Default is a SQL Server column default in dialect-neutral form.
type Default struct {
	Kind     DefaultKind
	Literal  string
	IsString bool
	// Raw is the DefaultValue text as received.
	Raw string
}
