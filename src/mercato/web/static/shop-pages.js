// Mercato storefront, the shop's pages: enhancements only. Every page works without
// this file: the search box submits, "Add to cart" posts, an order's page has a link
// that shows its latest status. With it: suggestions as you type, adding to the cart
// without leaving the page, and an order's status followed live until it settles.
"use strict";

(() => {
  const JSON_ONLY = { Accept: "application/json" };

  // -- Suggestions as you type in the Search box ----------------------------------
  // The WAI-ARIA combobox pattern: the input controls a listbox of product titles;
  // arrows move through them, Enter opens the one chosen, Escape closes the list.
  // Requests are debounced, and a newer one aborts the one still running.
  function suggestions(input) {
    const form = input.form;
    const list = document.createElement("ul");
    const status = document.createElement("p");
    let items = [];
    let active = -1;
    let timer = 0;
    let running = null;
    list.id = `${input.id}-suggestions`;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite"); // not role=status: the page's own message keeps that role
    form.classList.add("has-suggestions");
    form.append(list, status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-expanded", "false");

    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    };
    const choose = (index) => {
      active = index;
      list.querySelectorAll("[role=option]").forEach((option, i) => {
        option.setAttribute("aria-selected", String(i === index));
      });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", `${list.id}-${index}`);
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    };
    const show = (found) => {
      items = found;
      list.replaceChildren(
        ...found.map((item, i) => {
          const option = document.createElement("li");
          option.id = `${list.id}-${i}`;
          option.setAttribute("role", "option");
          option.setAttribute("aria-selected", "false");
          option.textContent = item.title;
          option.addEventListener("mousedown", (event) => event.preventDefault());
          option.addEventListener("click", () => window.location.assign(item.url));
          return option;
        }),
      );
      active = -1;
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", String(found.length > 0));
      const n = found.length;
      status.textContent = n ? `${n} suggestion${n === 1 ? "" : "s"}: use the arrow keys.` : "";
    };
    const ask = async () => {
      const q = input.value.trim();
      if (running) running.abort();
      if (q.length < 2) {
        close();
        return;
      }
      running = new AbortController();
      try {
        const url = `/suggest?${new URLSearchParams({ q })}`;
        const response = await fetch(url, { headers: JSON_ONLY, signal: running.signal });
        if (!response.ok) return close();
        const body = await response.json();
        if (body.q === input.value.trim()) show(body.items || []);
      } catch (error) {
        if (error.name !== "AbortError") close();
      }
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && items.length) {
        event.preventDefault();
        choose((active + 1) % items.length);
      } else if (event.key === "ArrowUp" && items.length) {
        event.preventDefault();
        choose(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.assign(items[active].url);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
  }

  // -- The cart's count in the header ------------------------------------------------
  function setCartCount(count) {
    const link = document.querySelector(".cart-link");
    if (!link) return;
    let badge = link.querySelector(".badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.append(document.createTextNode(""), document.createElement("span"));
      badge.lastChild.className = "visually-hidden";
      link.append(" ", badge);
    }
    badge.firstChild.textContent = String(count);
    badge.lastChild.textContent = count === 1 ? " item" : " items";
  }

  // -- Adding to the cart without leaving the page -----------------------------------
  // A refusal (beyond the stock, a form that expired, orders down) falls back to the
  // ordinary post, whose page says what went wrong beside the quantity.
  function addToCart(form) {
    const said = form.querySelector(".added");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
          headers: JSON_ONLY,
          credentials: "same-origin",
        });
        const type = response.headers.get("content-type") || "";
        if (!response.ok || !type.startsWith("application/json")) throw new Error("refused");
        const body = await response.json();
        setCartCount(body.count);
        if (said) said.textContent = body.message;
        if (button) button.disabled = false;
      } catch {
        form.submit();
      }
    });
  }

  // -- An order's status, followed until it settles ----------------------------------
  function follow(region) {
    const url = region.dataset.follow;
    const more = document.getElementById("order-more");
    let status = region.dataset.status || "";
    let delay = 1000;
    let asked = 0;
    const tick = async () => {
      asked += 1;
      try {
        const response = await fetch(url, { headers: JSON_ONLY, cache: "no-store" });
        if (!response.ok) throw new Error(String(response.status));
        const body = await response.json();
        if (body.status !== status) {
          status = body.status;
          region.innerHTML = body.live;
          if (more) more.innerHTML = body.more;
        }
        if (body.done) {
          region.removeAttribute("data-follow");
          return;
        }
        delay = 1000;
      } catch {
        delay = Math.min(delay * 2, 15000);
      }
      if (asked < 900) setTimeout(tick, delay);
    };
    setTimeout(tick, delay);
  }

  // -- Checkout: typing a new card chooses it ------------------------------------------
  function newCardChosenByTyping(form) {
    const choice = form.querySelector("input[name=payment][value=new]");
    const fields = form.querySelector("#new-card");
    if (!choice || !fields || choice.type !== "radio") return;
    fields.addEventListener("input", () => {
      choice.checked = true;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const search = document.getElementById("site-search");
    if (search && search.form) suggestions(search);
    for (const form of document.querySelectorAll("form[data-enhance=cart]")) addToCart(form);
    const region = document.querySelector("[data-follow]");
    if (region) follow(region);
    const checkout = document.getElementById("checkout");
    if (checkout) newCardChosenByTyping(checkout);
  });
})();
