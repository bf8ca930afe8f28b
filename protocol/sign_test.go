package protocol

import (
	"crypto/rsa"
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// appTokenShape is SuperOffice's SignedApplicationToken layout: nonce, 12-digit UTC stamp, padded base64.
var appTokenShape = regexp.MustCompile(`^([0-9A-F]+)\.(\d{12})\.([A-Za-z0-9+/]+={0,2})$`)

func TestSignNonceMatchesSampleShape(t *testing.T) {
	data, err := os.ReadFile("../testdata/superoffice/SampleAuthenticateResponse.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "<SignedApplicationToken>") + len("<SignedApplicationToken>")
	sample := s[i : i+strings.Index(s[i:], "<")]
	reqTok := sampleToken(t, "SampleAuthenticateRequest.xml")
	nonce := tokenPayload(t, reqTok)["nonce"].(string)

	m := appTokenShape.FindStringSubmatch(sample)
	if m == nil || m[1] != nonce {
		t.Fatalf("sample token %q does not have the expected shape with nonce %s", sample, nonce)
	}
	sig, _ := base64.StdEncoding.DecodeString(m[3])
	if len(sig) != 128 {
		t.Fatalf("sample signature is %d bytes", len(sig))
	}
	// The sample was answered inside the request token's lifetime, which pins its clock.
	at := sampleClock(t, reqTok)()
	if m[2] != at.UTC().Format("200601021504") {
		t.Fatalf("sample stamp %s, request time %s", m[2], at.UTC())
	}

	// A 1024-bit key like the one behind the sample gives a token of the same length.
	key1024, err := ParsePrivateKey([]byte(opensslKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	key2048, _ := testKeys(t)
	for _, key := range []*rsa.PrivateKey{key1024, key2048} {
		ours, err := SignNonce(key, nonce, at)
		if err != nil {
			t.Fatal(err)
		}
		om := appTokenShape.FindStringSubmatch(ours)
		if om == nil || om[1] != nonce || om[2] != m[2] {
			t.Fatalf("our token %q differs in shape from %q", ours, sample)
		}
		if key == key1024 && len(ours) != len(sample) {
			t.Errorf("our token is %d chars, sample %d", len(ours), len(sample))
		}
		if err := VerifyApplicationToken(&key.PublicKey, ours, nonce, at, 15*time.Minute); err != nil {
			t.Errorf("verify: %v", err)
		}
	}
}

func TestSignNonceStampIsUTC(t *testing.T) {
	key, _ := testKeys(t)
	oslo := time.FixedZone("CEST", 2*3600)
	tok, err := SignNonce(key, "ABC", time.Date(2021, 9, 16, 13, 25, 59, 0, oslo))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "ABC.202109161125.") {
		t.Errorf("token %s", tok)
	}
	if _, err := SignNonce(key, "", time.Now()); err == nil {
		t.Error("empty nonce signed")
	}
	if _, err := SignNonce(nil, "A", time.Now()); err == nil {
		t.Error("nil key signed")
	}
}

func TestVerifyApplicationToken(t *testing.T) {
	key, other := testKeys(t)
	at := time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)
	tok, err := SignNonce(key, "N0NCE", at)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(tok)
	if flipped[len(flipped)-5] == 'A' {
		flipped[len(flipped)-5] = 'B'
	} else {
		flipped[len(flipped)-5] = 'A'
	}
	cases := []struct {
		name  string
		pub   *rsa.PublicKey
		token string
		nonce string
		now   time.Time
		want  string
	}{
		{"valid", &key.PublicKey, tok, "N0NCE", at.Add(30 * time.Second), ""},
		{"14 minutes late", &key.PublicKey, tok, "N0NCE", at.Add(14 * time.Minute), ""},
		{"15 minutes late", &key.PublicKey, tok, "N0NCE", at.Add(15 * time.Minute), "away from now"},
		{"15 minutes early", &key.PublicKey, tok, "N0NCE", at.Add(-15 * time.Minute), "away from now"},
		{"other nonce", &key.PublicKey, tok, "OTHER", at, "nonce does not match"},
		{"other key", &other.PublicKey, tok, "N0NCE", at, "signature does not verify"},
		{"tampered signature", &key.PublicKey, string(flipped), "N0NCE", at, "signature does not verify"},
		{"tampered stamp", &key.PublicKey, strings.Replace(tok, ".202401020304.", ".202401020305.", 1), "N0NCE", at, "signature does not verify"},
		{"short stamp", &key.PublicKey, "N0NCE.2024010203.AAAA", "N0NCE", at, "not yyyyMMddHHmm"},
		{"bad base64", &key.PublicKey, "N0NCE.202401020304.***", "N0NCE", at, "not standard base64"},
		{"no dots", &key.PublicKey, "garbage", "N0NCE", at, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyApplicationToken(c.pub, c.token, c.nonce, c.now, 15*time.Minute)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}
