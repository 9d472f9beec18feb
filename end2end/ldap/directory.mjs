// A real directory for the browser tests: Debian's slapd on loopback, in a
// temporary folder, seeded (slapadd) with people and groups of groups, and
// answering on ldap:// with StartTLS (a certificate from a throw-away
// authority whose file the test hands to Visita as SSL_CERT_FILE).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../tests/support.mjs';

export const BASE = 'dc=clinic,dc=test';
export const SERVICE = { dn: `cn=visita,${BASE}`, password: 'directory service secret' };

const SEED = `
dn: ${BASE}
objectClass: dcObject
objectClass: organization
o: Clinic
dc: clinic

dn: ou=people,${BASE}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${BASE}
objectClass: organizationalUnit
ou: groups

dn: ${SERVICE.dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: visita
userPassword: ${SERVICE.password}

dn: uid=dana,ou=people,${BASE}
objectClass: inetOrgPerson
uid: dana
cn: Dr Dana Directory
sn: Directory
mail: Dana@clinic.test
userPassword: dana directory password

dn: uid=ned,ou=people,${BASE}
objectClass: inetOrgPerson
uid: ned
cn: Ned Nurse
sn: Nurse
mail: ned@clinic.test
userPassword: ned directory password

dn: uid=otto,ou=people,${BASE}
objectClass: inetOrgPerson
uid: otto
cn: Otto Outside
sn: Outside
mail: otto@clinic.test
userPassword: otto directory password

dn: cn=cardiology-doctors,ou=groups,${BASE}
objectClass: groupOfNames
cn: cardiology-doctors
member: uid=dana,ou=people,${BASE}

dn: cn=visita-doctors,ou=groups,${BASE}
objectClass: groupOfNames
cn: visita-doctors
member: cn=cardiology-doctors,ou=groups,${BASE}

dn: cn=ward-3,ou=groups,${BASE}
objectClass: groupOfNames
cn: ward-3
member: uid=ned,ou=people,${BASE}

dn: cn=all-nurses,ou=groups,${BASE}
objectClass: groupOfNames
cn: all-nurses
member: cn=ward-3,ou=groups,${BASE}

dn: cn=visita-nurses,ou=groups,${BASE}
objectClass: groupOfNames
cn: visita-nurses
member: cn=all-nurses,ou=groups,${BASE}

dn: cn=visitors,ou=groups,${BASE}
objectClass: groupOfNames
cn: visitors
member: uid=otto,ou=people,${BASE}
`;

function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
}

/** Starts slapd; resolves with its URL, the authority's certificate file and `stop`. */
export async function startDirectory() {
  const dir = await mkdtemp(join(tmpdir(), 'visita-slapd-'));
  await mkdir(join(dir, 'db'));
  // A throw-away authority and the server's certificate for 127.0.0.1.
  const file = (name) => join(dir, name);
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Visita test authority',
    '-keyout', file('ca.key'), '-out', file('ca.pem')]);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr')]);
  await writeFile(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', file('ext.cnf'), '-out', file('server.pem')]);
  const conf = `
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${file('slapd.pid')}
TLSCACertificateFile ${file('ca.pem')}
TLSCertificateFile ${file('server.pem')}
TLSCertificateKeyFile ${file('server.key')}
database mdb
suffix "${BASE}"
rootdn "cn=admin,${BASE}"
rootpw directory-admin-secret
directory ${file('db')}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
`;
  await writeFile(file('slapd.conf'), conf);
  await writeFile(file('seed.ldif'), SEED.trimStart());
  run('/usr/sbin/slapadd', ['-f', file('slapd.conf'), '-l', file('seed.ldif')]);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const slapd = spawn('/usr/sbin/slapd', ['-f', file('slapd.conf'), '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  slapd.stderr.on('data', (chunk) => { stderr += chunk; });
  // Ready once a search as the service account answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = spawnSync('ldapsearch', ['-x', '-H', url, '-D', SERVICE.dn, '-w', SERVICE.password, '-b', BASE, '-s', 'base', 'dn'], { encoding: 'utf8' });
    if (probe.status === 0) break;
    if (slapd.exitCode !== null || Date.now() > deadline) throw new Error(`slapd did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    caFile: file('ca.pem'),
    stop: async () => {
      slapd.kill('SIGTERM');
      await new Promise((r) => slapd.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
