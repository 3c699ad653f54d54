console.log(decodeURIComponent('caf%C3%A9'), encodeURIComponent('a b&c'));
console.log(decodeURIComponent('%E0%A4%A'));
