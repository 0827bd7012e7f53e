-- Each certificate's signatures in the issuance history: the SHC JWS signatures and the VDS-NC
-- signature values, with a fingerprint of the barcode signer certificate. A reprint composes the
-- certificate again and re-attaches them, so it is byte-identical even where signatures are
-- randomized (an HSM's ECDSA). Ciphertext under the municipality's data key (AAD = table,
-- column, municipality, certificate id), like the passport items: a bare signature over a
-- certificate would let someone holding the database confirm a guess of the name and birth date.
-- NULL for issuances recorded before this column existed (they cannot be reprinted).
ALTER TABLE issuances ADD COLUMN signatures_enc bytea;

-- Erased with the passport items when the person is deleted.
GRANT UPDATE (signatures_enc) ON issuances TO certsvc_app;
