/**
 * `openkcm/client`: the KMIP client, which is the @openkcm/client package (issue 19), so what `openkcm/client`
 * gives is exactly what `npm install @openkcm/client` gives (docs/client.md).
 */
export * from '@openkcm/client';
