package protocol

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// stampLayout is the yyyyMMddHHmm UTC timestamp of a SignedApplicationToken.
const stampLayout = "200601021504"

// SignNonce returns the SignedApplicationToken for nonce at time t:
// "{nonce}.{yyyyMMddHHmm UTC}.{base64 RSASSA-PKCS1-v1_5-SHA256 of "{nonce}.{yyyyMMddHHmm}"}".
func SignNonce(key *rsa.PrivateKey, nonce string, t time.Time) (string, error) {
	if key == nil {
		return "", errors.New("sign nonce: no application key")
	}
	if nonce == "" {
		return "", errors.New("sign nonce: empty nonce")
	}
	msg := nonce + "." + t.UTC().Format(stampLayout)
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign nonce: %w", err)
	}
	return msg + "." + base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyApplicationToken checks a SignedApplicationToken as SuperOffice does: it must carry wantNonce, a
// timestamp less than maxSkew away from now, and a valid signature by pub's private key.
func VerifyApplicationToken(pub *rsa.PublicKey, token, wantNonce string, now time.Time, maxSkew time.Duration) error {
	if pub == nil {
		return errors.New("application token: no public key")
	}
	// The signature is base64 and the stamp digits, so neither holds a dot; the nonce might.
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return errors.New("application token: malformed")
	}
	msg, sigText := token[:i], token[i+1:]
	j := strings.LastIndexByte(msg, '.')
	if j < 0 {
		return errors.New("application token: malformed")
	}
	nonce, stamp := msg[:j], msg[j+1:]
	if nonce != wantNonce {
		return errors.New("application token: nonce does not match the request's")
	}
	if len(stamp) != len(stampLayout) {
		return fmt.Errorf("application token: timestamp %q is not yyyyMMddHHmm", stamp)
	}
	at, err := time.Parse(stampLayout, stamp)
	if err != nil {
		return fmt.Errorf("application token: timestamp %q is not yyyyMMddHHmm", stamp)
	}
	if d := now.Sub(at).Abs(); d >= maxSkew {
		return fmt.Errorf("application token: timestamp %s is %s away from now", at.Format(time.RFC3339), d.Round(time.Second))
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return errors.New("application token: signature is not standard base64")
	}
	sum := sha256.Sum256([]byte(msg))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("application token: signature does not verify")
	}
	return nil
}
