// The counter page's only script (served from 'self'; the CSP allows no inline script):
// the My Number check digit is checked as staff type it. The server checks it again.
"use strict";

function myNumberValid(value) {
  if (!/^[0-9]{12}$/.test(value)) return false;
  // 個人番号の検査用数字: Pn are the first 11 digits from the right, Qn = n+1 (n ≤ 6), n−5 (n ≥ 7).
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(value[11 - n]);
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  const check = r <= 1 ? 0 : 11 - r;
  return check === Number(value[11]);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-my-number-form]")) {
    const input = form.querySelector("#my_number");
    const out = form.querySelector("#my_number_error");
    const check = () => {
      const ok = input.value === "" || myNumberValid(input.value);
      input.setCustomValidity(ok ? "" : input.dataset.checkMessage);
      input.setAttribute("aria-invalid", ok ? "false" : "true");
      out.textContent = ok ? "" : input.dataset.checkMessage;
    };
    input.addEventListener("input", check);
    form.addEventListener("submit", (event) => {
      check();
      if (!form.checkValidity()) event.preventDefault();
    });
  }
});
