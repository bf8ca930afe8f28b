package protocol

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// rsaKeyValue is the .NET RSA XML key format (RSA.ToXmlString), which SuperOffice's portal uses for
// application keys. Every field is big-endian base64.
type rsaKeyValue struct {
	XMLName  xml.Name `xml:"RSAKeyValue"`
	Modulus  string   `xml:"Modulus"`
	Exponent string   `xml:"Exponent"`
	P        string   `xml:"P,omitempty"`
	Q        string   `xml:"Q,omitempty"`
	DP       string   `xml:"DP,omitempty"`
	DQ       string   `xml:"DQ,omitempty"`
	InverseQ string   `xml:"InverseQ,omitempty"`
	D        string   `xml:"D,omitempty"`
}

// ParsePrivateKey parses an RSA private key in .NET RSA XML or PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY") form, and validates it.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	data = trimKeyText(data)
	if len(data) > 0 && data[0] == '<' {
		return parsePrivateXML(data)
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			if _, encrypted := b.Headers["DEK-Info"]; encrypted {
				return nil, errors.New("private key: encrypted PEM is not supported")
			}
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: PKCS#1: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("private key: PKCS#8: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("private key: PKCS#8 holds a %T, want RSA", k)
			}
			return rk, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("private key: encrypted PEM is not supported")
		}
	}
	return nil, errors.New("private key: neither RSA XML nor a PEM private key")
}

// LoadPrivateKey reads and parses the RSA private key file at path (see ParsePrivateKey).
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKey parses an RSA public key in .NET RSA XML (Modulus and Exponent) or PEM form (PKIX
// "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY", or a "CERTIFICATE").
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	data = trimKeyText(data)
	if len(data) > 0 && data[0] == '<' {
		var kv rsaKeyValue
		if err := xml.Unmarshal(data, &kv); err != nil {
			return nil, fmt.Errorf("public key: RSA XML: %w", err)
		}
		return kv.public()
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				k = c.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("public key: %s: %w", strings.ToLower(b.Type), err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T, want RSA", k)
		}
		return rk, nil
	}
	return nil, errors.New("public key: neither RSA XML nor a PEM public key or certificate")
}

// trimKeyText drops surrounding whitespace and a UTF-8 byte order mark, which Windows editors add.
func trimKeyText(data []byte) []byte {
	data = bytes.TrimSpace(data)
	return bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
}

func parsePrivateXML(data []byte) (*rsa.PrivateKey, error) {
	var kv rsaKeyValue
	if err := xml.Unmarshal(data, &kv); err != nil {
		return nil, fmt.Errorf("private key: RSA XML: %w", err)
	}
	pub, err := kv.public()
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	fields := []struct {
		name, text string
	}{{"P", kv.P}, {"Q", kv.Q}, {"D", kv.D}, {"DP", kv.DP}, {"DQ", kv.DQ}, {"InverseQ", kv.InverseQ}}
	vals := make(map[string]*big.Int, len(fields))
	for _, f := range fields {
		if strings.TrimSpace(f.text) == "" {
			if f.name == "DP" || f.name == "DQ" || f.name == "InverseQ" {
				continue // derivable; validated below when present
			}
			return nil, fmt.Errorf("private key: RSA XML has no <%s> (is this a public key?)", f.name)
		}
		n, err := xmlInt(f.text)
		if err != nil {
			return nil, fmt.Errorf("private key: RSA XML <%s>: %w", f.name, err)
		}
		vals[f.name] = n
	}
	key := &rsa.PrivateKey{PublicKey: *pub, D: vals["D"], Primes: []*big.Int{vals["P"], vals["Q"]}}
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("private key: RSA XML: %w", err)
	}
	// The CRT values are redundant; a mismatch means a damaged or hand-edited file.
	dp, dq, qinv := crtValues(key)
	for name, want := range map[string]*big.Int{"DP": dp, "DQ": dq, "InverseQ": qinv} {
		if got, ok := vals[name]; ok && got.Cmp(want) != 0 {
			return nil, fmt.Errorf("private key: RSA XML <%s> does not match the key", name)
		}
	}
	key.Precompute()
	return key, nil
}

func (kv *rsaKeyValue) public() (*rsa.PublicKey, error) {
	if strings.TrimSpace(kv.Modulus) == "" || strings.TrimSpace(kv.Exponent) == "" {
		return nil, errors.New("RSA XML needs <Modulus> and <Exponent>")
	}
	n, err := xmlInt(kv.Modulus)
	if err != nil {
		return nil, fmt.Errorf("RSA XML <Modulus>: %w", err)
	}
	e, err := xmlInt(kv.Exponent)
	if err != nil {
		return nil, fmt.Errorf("RSA XML <Exponent>: %w", err)
	}
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("RSA XML <Exponent> is not a valid public exponent")
	}
	if n.BitLen() < 512 {
		return nil, fmt.Errorf("RSA XML <Modulus> is %d bits, too short", n.BitLen())
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

// xmlInt decodes a base64 big-endian integer, ignoring whitespace and tolerating missing padding.
func xmlInt(s string) (*big.Int, error) {
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var err2 error
		if b, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err2 != nil {
			return nil, fmt.Errorf("bad base64: %w", err)
		}
	}
	if len(b) == 0 {
		return nil, errors.New("empty value")
	}
	return new(big.Int).SetBytes(b), nil
}

// crtValues computes D mod (P-1), D mod and Q⁻¹ mod P, the DP, DQ and InverseQ of RSA XML.
func crtValues(k *rsa.PrivateKey) (dp, dq, qinv *big.Int) {
	one := big.NewInt(1)
	p, q := k.Primes[0], k.Primes[1]
	dp = new(big.Int).Mod(k.D, new(big.Int).Sub(p, one))
	dq = new(big.Int).Mod(k.D, new(big.Int).Sub(q, one))
	qinv = new(big.Int).ModInverse(q, p)
	return dp, dq, qinv
}

// MarshalRSAXML encodes key in .NET RSA XML form with its private parts. Fields are zero-padded to the
// lengths .NET's RSA.ImportParameters requires (D as long as the modulus, the CRT values half of it).
// It needs a two-prime key, which is what GenerateKeyPair and every parser here produce.
func MarshalRSAXML(key *rsa.PrivateKey) []byte {
	size := (key.N.BitLen() + 7) / 8
	half := (size + 1) / 2
	dp, dq, qinv := crtValues(key)
	kv := rsaKeyValue{
		Modulus:  b64(key.N, size),
		Exponent: b64(big.NewInt(int64(key.E)), 0),
		P:        b64(key.Primes[0], half),
		Q:        b64(key.Primes[1], half),
		DP:       b64(dp, half),
		DQ:       b64(dq, half),
		InverseQ: b64(qinv, half),
		D:        b64(key.D, size),
	}
	out, _ := xml.Marshal(kv) // cannot fail: plain strings in a fixed struct
	return out
}

// MarshalRSAXMLPublic encodes pub in .NET RSA XML form (Modulus and Exponent), the form SuperOffice's
// portal asks for.
func MarshalRSAXMLPublic(pub *rsa.PublicKey) []byte {
	kv := rsaKeyValue{
		Modulus:  b64(pub.N, (pub.N.BitLen()+7)/8),
		Exponent: b64(big.NewInt(int64(pub.E)), 0),
	}
	out, _ := xml.Marshal(kv) // cannot fail: plain strings in a fixed struct
	return out
}

func b64(n *big.Int, size int) string {
	b := n.Bytes()
	if len(b) < size {
		b = append(make([]byte, size-len(b)), b...)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// GenerateKeyPair generates an RSA application key of bits bits (2048 when bits is 0).
func GenerateKeyPair(bits int) (*rsa.PrivateKey, error) {
	if bits == 0 {
		bits = 2048
	}
	if bits < 2048 || bits > 8192 {
		return nil, fmt.Errorf("generate key: %d bits; use 2048 to 8192", bits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// WriteKeyPair writes key to dir as <name>.private.xml, <name>.public.xml (to paste into SuperOffice's
// portal), <name>.private.pem and <name>.public.pem, and returns the paths. Private files are mode 0600.
// It refuses to overwrite any existing file, and writes nothing if one exists.
func WriteKeyPair(dir, name string, key *rsa.PrivateKey) ([]string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("write key pair: bad name %q", name)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("write key pair: %w", err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("write key pair: %w", err)
	}
	files := []struct {
		suffix string
		data   []byte
		mode   os.FileMode
	}{
		{".private.xml", append(MarshalRSAXML(key), '\n'), 0o600},
		{".public.xml", append(MarshalRSAXMLPublic(&key.PublicKey), '\n'), 0o644},
		{".private.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600},
		{".public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), 0o644},
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, name+f.suffix)
		if _, err := os.Lstat(paths[i]); err == nil {
			return nil, fmt.Errorf("write key pair: %s already exists", paths[i])
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("write key pair: %w", err)
		}
	}
	for i, f := range files {
		// O_EXCL closes the race between the check above and the write.
		fh, err := os.OpenFile(paths[i], os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return paths[:i], fmt.Errorf("write key pair: %w", err)
		}
		_, werr := fh.Write(f.data)
		cerr := fh.Close()
		if werr != nil || cerr != nil {
			return paths[:i+1], fmt.Errorf("write key pair: %s: %w", paths[i], errors.Join(werr, cerr))
		}
	}
	return paths, nil
}
