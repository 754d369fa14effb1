"""Packaging for nanogpt: every field comes from settings.ini (nbdev 2's classic layout)."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

for key in 'version description keywords author author_email'.split():
    assert key in cfg, f'settings.ini is missing "{key}"'

spdx = {'apache2': 'Apache-2.0', 'mit': 'MIT'}  # SPDX license expressions (setuptools deprecates license classifiers)
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()
min_python = cfg['min_python']

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
scripts = cfg.get('console_scripts', '').split()
with open('README.md', encoding='utf-8') as f: long_description = f.read()

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=long_description,
    long_description_content_type='text/markdown',
    license=spdx.get(cfg['license'].lower(), cfg['license']),
    author=cfg['author'],
    author_email=cfg['author_email'],
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=[f'Development Status :: {statuses[int(cfg["status"]) - 1]}',
                 f'Intended Audience :: {cfg["audience"].title()}',
                 f'Natural Language :: {cfg["language"].title()}']
                + [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_python):]],
    python_requires=f'>={min_python}',
    packages=setuptools.find_packages(include=['nanogpt', 'nanogpt.*']),
    include_package_data=True,
    package_data={'nanogpt': ['configs/*.py']},
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    entry_points={'console_scripts': scripts, 'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    zip_safe=False,
)
