/** The object identifiers the certificate, CSR and profile code name, each written once. */
export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/**
 * Attribute types by the short names @peculiar/x509's Name.toJSON() uses (its keys; anything
 * else keeps its OID), which are also the names subjects are written with in messages.
 */
export const ATTRIBUTE_TYPES: Readonly<Record<string, string>> = {
  CN: OID.commonName,
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: OID.organization,
  OU: '2.5.4.11',
  C: '2.5.4.6',
  DC: '0.9.2342.19200300.100.1.25',
  E: '1.2.840.113549.1.9.1',
  G: '2.5.4.42',
  I: '2.5.4.43',
  SN: '2.5.4.4',
  T: '2.5.4.12',
};
