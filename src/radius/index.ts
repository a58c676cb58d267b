// The RADIUS wire protocol: dictionaries, packets, crypto and a client. Nothing of ours is
// imported from outside this folder.
export { Attribute } from './attribute.js';
export type { AttributeValue } from './attribute.js';
export { PacketCode, authenticatorKind, codeByName, codeName, isKnownCode } from './codes.js';
export type { AuthenticatorKind } from './codes.js';
export { Dictionary, DictionaryError } from './dictionary/dictionary.js';
export { bundledDictionary, loadDictionaries, BUNDLED_DICTIONARY } from './dictionary/load.js';
export type { AttributeDef, AttributeType, VendorDef } from './dictionary/types.js';
export { decodePacket, MAX_PACKET_LENGTH } from './decode.js';
export type { DecodeOptions } from './decode.js';
export { encodePacket, prepareValues } from './encode.js';
export type { EncodeOptions } from './encode.js';
export { RadiusError } from './errors.js';
export type { RadiusErrorCode } from './errors.js';
export { Packet, createPacket, makeAttribute, sameAttribute } from './packet.js';
export type { AttributeName, PacketAttributes } from './packet.js';
export { RadiusClient } from './client.js';
export type { RadiusClientCounters, RadiusClientOptions } from './client.js';
export {
  chapRequest,
  msChapV1Request,
  msChapV2Request,
  papRequest,
  verifyMsChapV2Success,
} from './auth-requests.js';
export type { ChapOptions, MsChapV1Options, MsChapV2Options } from './auth-requests.js';
export { verifyPacket } from './verify.js';
export type { AuthenticatorCheck, MessageAuthenticatorCheck, PacketChecks } from './verify.js';
export {
  formatAttribute,
  formatAttributes,
  formatPacket,
  formatValue,
  parseAttributes,
} from './text.js';
export type { ValueInput, PlainValue } from './values.js';
export * as crypto from './crypto/index.js';
