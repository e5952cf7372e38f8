/** Types of rotatingCode.js, for the TypeScript tests that import it. */
export declare const PERIOD_SECONDS: 15;
export declare const CODE_PREFIX: 'P1.';
export declare function base32(bytes: Uint8Array): string;
export declare function hexToBytes(hex: string): Uint8Array;
export declare function timeStep(unixSeconds: number): number;
export declare function secondsLeft(unixSeconds: number): number;
export declare function importSecret(secretHex: string): Promise<CryptoKey>;
export declare function signedBytes(credentialId: string, step: number): Uint8Array;
export declare function rotatingCode(credentialId: string, key: CryptoKey | string, unixSeconds: number): Promise<string>;
