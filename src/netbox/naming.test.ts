import { describe, expect, it } from 'vitest';
import { checkTemplate, description, dnsName } from './naming.js';

const alice = { username: 'p1.f9_bd1@NEUTRINET', address: '80.67.191.6', pool: 'public' };

describe('dns_name templates', () => {
  it('makes each value a DNS label', () => {
    expect(dnsName('{user}.{realm}.members.example.be', alice)).toBe(
      'p1-f9-bd1.neutrinet.members.example.be',
    );
    expect(dnsName('{ip_dashed}.dsl.example.be.', alice)).toBe('80-67-191-6.dsl.example.be.');
    expect(
      dnsName('{ip_dashed}.example.be', { ...alice, address: '2001:913:1d00:605::1/128' }),
    ).toBe('2001-913-1d00-605--1.example.be');
  });

  it('drops empty labels, and gives nothing when nothing valid is left', () => {
    expect(dnsName('{user}.{realm}.example.be', { ...alice, username: 'bob' })).toBe(
      'bob.example.be',
    );
    expect(dnsName('', alice)).toBe('');
    expect(dnsName('{realm}', { ...alice, username: 'bob' })).toBe('');
  });

  it('refuses unknown placeholders', () => {
    expect(() => checkTemplate('netbox.dns_name', '{login}.example.be')).toThrow(/\{login\}/);
    expect(() => checkTemplate('netbox.dns_name', '{user}.{realm}.example.be')).not.toThrow();
  });
});

describe('descriptions', () => {
  it('keep the values as they are, within NetBox’s 200 characters', () => {
    expect(description('{username} ({pool})', alice)).toBe('p1.f9_bd1@NEUTRINET (public)');
    expect(description('{username}', { ...alice, username: 'x'.repeat(300) })).toHaveLength(200);
  });
});
