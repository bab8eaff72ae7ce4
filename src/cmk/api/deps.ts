/**
 * What the admin API is built from (./server.ts buildAdminApi): its dependencies, the four-eyes and TLS
 * configuration, and the fastify types its route modules share.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../../common/log.js';
import type { PolicyEngine } from '../authz/engine.js';
import type { Governance } from '../repository/index.js';
import type { AdminAuthConfig, AdminDirectory } from './auth.js';
import type { AdminLimits } from './limits.js';
import type {
  AdminAction, AdminPolicyEngine, AdminPrincipal, BindL1, FourEyesConfig, GovernancePort, KillSwitchPort, MasterKeyStatusFn,
  NodeSecretsPort, RotationPort, ValidateShadow,
} from './ports.js';

/** How long a four-eyes request waits for its approvals; a stale request must not be completed days later. */
export const DEFAULT_APPROVAL_TTL_MS = 60 * 60 * 1000;
/** Bounds on the configured number of approvers (beyond the requester). */
export const MAX_REQUIRED_APPROVALS = 5;

// One definition each, in ./ports.ts (the merge of issue 19's branches had left a copy here).
export type { AdminPolicyEngine, FourEyesConfig } from './ports.js';

export interface AdminTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Trust anchor(s) for admin client certificates. */
  readonly ca?: string | Buffer;
}

/** The fastify instance of the admin API (HTTP for inject() tests, HTTPS when listening with TLS). */
export type AdminApi = FastifyInstance<Server | HttpsServer, IncomingMessage, ServerResponse>;

export interface AdminApiDeps {
  /** The repository (adapted by ./governance-port.ts) or anything implementing the port. */
  readonly governance: Governance | GovernancePort;
  /** Cedar engine (H7's PolicyEngine, adapted by ./policy-engine.ts, or an adapter): decides admin actions and
   *  validates policy text. Without it: the role table, and policies are checked by the repository only. */
  readonly policyEngine?: PolicyEngine | AdminPolicyEngine;
  /** krypton.offboard: crypto-shred for terminate (needed only with a Governance; a port handles it itself). */
  readonly cryptoShred?: (tenant: string) => Promise<void>;
  /** Runs the keystore plugin's health() for a shadow reference (never unwrap). */
  readonly validateShadow?: ValidateShadow;
  /** Binds a validated L1 to the tenant's keys in krypton (onboard or re-wrap); absent: recorded only. */
  readonly bindL1?: BindL1;
  /** The node's secrets (write-only routes /v1/node/secrets); absent: those routes answer 501. */
  readonly nodeSecrets?: NodeSecretsPort;
  /** krypton on this node (immediate local effect); the NOTIFY listener covers the other nodes. */
  readonly killSwitch?: KillSwitchPort;
  readonly masterKeyStatus?: MasterKeyStatusFn;
  readonly auth: AdminAuthConfig;
  readonly fourEyes?: FourEyesConfig;
  readonly metrics?: { readonly registries?: readonly Registry[] };
  readonly logger?: Logger;
  /** Serve HTTPS (required for client-certificate authentication). Without it: plain HTTP, for inject() tests. */
  readonly tls?: AdminTls;
  /** Connection limits of the listener (./limits.ts); absent ones take their defaults. */
  readonly limits?: Partial<AdminLimits>;
  /** Admins issued at run time (issue 18, src/pki/registry.ts): roles and tenant scope of their identities. */
  readonly adminDirectory?: AdminDirectory;
  /**
   * More routes (issue 18: clients, admins, identities, the CRL; src/pki/api-routes.ts), registered beside these
   * with the same error handling. Routes without `config.action` authenticate through `authenticate` themselves.
   */
  readonly extraRoutes?: (app: AdminApi, ctx: { authenticate(req: FastifyRequest): Promise<AdminPrincipal> }) => void;
  /** L2/L3 rotation, L3 drop and L1 replacement (./rotation-routes.ts). Without it: those routes answer 501. */
  readonly rotation?: RotationPort;
}

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
  interface FastifyContextConfig {
    /** The action this route performs; absent = public route (health, OpenAPI). */
    action?: AdminAction;
  }
}
